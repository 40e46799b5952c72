# No S3 bucket ACL grants read or write to everyone: use a private ACL and grant access by bucket policy.
package gitops

import rego.v1

acl_types := {"aws_s3_bucket_acl", "aws_s3_bucket"}

public_grantees := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

deny contains violation if some violation in s3_public_acl_canned

s3_public_acl_canned := [violation |
	some type in acl_types
	some rc in changes_by_type[type]
	acl := known(rc, "acl")
	is_string(acl)
	startswith(acl, "public-read")
	changing(rc)
	violation := {
		"rule": "s3-public-acl",
		"severity": "error",
		"address": rc.address,
		"msg": concat("", ["canned ACL '", acl, "' makes the bucket public; use private and grant access by policy"]),
	}
]

deny contains violation if some violation in s3_public_acl_grants

s3_public_acl_grants := [violation |
	some type in acl_types
	some rc in changes_by_type[type]
	some policy in known(rc, "access_control_policy")
	some grant in policy.grant
	some grantee in grant.grantee
	grantee.uri in public_grantees
	changing(rc)
	parts := split(grantee.uri, "/")
	violation := {
		"rule": "s3-public-acl",
		"severity": "error",
		"address": rc.address,
		"msg": concat("", ["ACL grants ", object.get(grant, "permission", "access"), " to ", parts[count(parts) - 1]]),
	}
]
