"""Built-in models and the initialization schemes that apply to any model."""
