"""The web layer: HTML pages, the Hugging Face-shaped JSON API and RSS/Atom feeds over one FastAPI app."""
