"""An example third-party rageval plugin package."""
