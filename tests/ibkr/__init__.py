"""Tests for the Interactive Brokers integration and its fake gateway."""
