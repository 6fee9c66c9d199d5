"""arm_scheduler package."""
