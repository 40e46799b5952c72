# A public access block (of a bucket or of the account) keeps all four flags true. A flag unknown until apply is
# not judged.
package gitops

import rego.v1

deny contains violation if some violation in s3_public_access_block_disabled_violations

s3_public_access_block_disabled_violations := [violation |
	some type in {"aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"}
	some rc in changes_by_type[type]
	not object.subset(rc.change.after, all_public_access_blocked) # a quick test first: the usual block passes it
	changing(rc)
	off := [flag |
		some flag in public_access_flags
		not rc.change.after[flag] == true
		not unknown(rc, flag)
	]
	count(off) > 0
	violation := {
		"rule": "s3-public-access-block-disabled",
		"severity": "error",
		"address": rc.address,
		"msg": concat("", ["public access block turns off ", concat(", ", off), "; set all four to true"]),
	}
]
