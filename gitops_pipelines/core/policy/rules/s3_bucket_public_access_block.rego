# Every new S3 bucket gets an aws_s3_bucket_public_access_block (or the account blocks public access for all).
# A warning: the bucket may be meant to be public, and the rule s3-public-acl catches public grants. The block's
# `bucket` is usually unknown until apply (it refers to the bucket), so it is matched through `configuration`.
package gitops

import rego.v1

account_blocks_public_access if {
	some block in changes_by_type.aws_s3_account_public_access_block
	staying(block)
	every flag in public_access_flags {
		known(block, flag) == true
	}
}

warn contains violation if some violation in s3_bucket_public_access_block_violations

s3_bucket_public_access_block_violations := [violation |
	not account_blocks_public_access
	some bucket in changes_by_type.aws_s3_bucket
	new_bucket(bucket)
	not has_companion(bucket, "aws_s3_bucket_public_access_block")
	violation := {
		"rule": "s3-bucket-public-access-block",
		"severity": "warning",
		"address": bucket.address,
		"msg": "new S3 bucket has no aws_s3_bucket_public_access_block; add one with all four flags true",
	}
]
