"""pytest plugin (entry point ``cmkguard``): fixtures for the emulated AWS account."""
