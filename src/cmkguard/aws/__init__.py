"""The only package that imports boto3/botocore: sessions, clients, paging, retries, errors."""
