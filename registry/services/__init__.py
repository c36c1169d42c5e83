"""Business logic shared by the API, the pages, the CLI and the importers.

Services add and flush; they never commit. The request, the CLI command or the
import run around them commits once, or rolls back.
"""
