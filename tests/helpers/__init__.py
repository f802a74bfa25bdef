"""What tests share: plain helper modules, and fixture modules registered in tests/conftest.py."""
