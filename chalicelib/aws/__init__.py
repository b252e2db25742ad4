"""The AWS adapters: S3, DynamoDB and EventBridge behind small, typed classes.

Each class takes a boto3 client from `chalicelib.wiring` and speaks the
service's API so that the use cases at the top of `chalicelib` do not.
"""
