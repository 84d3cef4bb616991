"""Tests of debrid.sandbox, the local Real-Debrid stand-in."""
