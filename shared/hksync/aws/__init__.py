"""AWS adapters the runtime uses: boto3 clients, S3, Scheduler, SNS, SQS, the custom resource."""
