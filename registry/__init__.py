"""The ICT4D funding registry: projects, funding sources and money flows."""
