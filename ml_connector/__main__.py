from ml_connector.cli import app

app()
