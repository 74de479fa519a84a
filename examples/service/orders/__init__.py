"""orders: a small Flask + boto3 + psycopg service, run by pytest-drtest as the web tier."""
