# Every new S3 bucket gets an aws_s3_bucket_server_side_encryption_configuration that names its key. A warning:
# S3 encrypts new objects with SSE-S3 by default since 2023, so a bucket without one is not stored in clear, but
# its encryption is then not what the code says. Matched through `configuration` like the public access block.
package gitops

import rego.v1

warn contains violation if some violation in s3_bucket_encryption_violations

s3_bucket_encryption_violations := [violation |
	some bucket in changes_by_type.aws_s3_bucket
	new_bucket(bucket)
	not has_companion(bucket, "aws_s3_bucket_server_side_encryption_configuration")
	violation := {
		"rule": "s3-bucket-encryption",
		"severity": "warning",
		"address": bucket.address,
		"msg": "new S3 bucket has no aws_s3_bucket_server_side_encryption_configuration; add one (aws:kms or AES256)",
	}
]
