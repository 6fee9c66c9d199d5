"""vision_pipeline package."""
