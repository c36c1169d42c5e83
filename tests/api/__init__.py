"""Tests of the API as a whole: its error shape and its OpenAPI document."""
