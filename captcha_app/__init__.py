"""The web app behind app.py: what its buttons do, the models it serves, its words, visitors'
input checked, its picture store, the shared reader and the bulk route."""
