# No IAM policy document allows Action "*" on Resource "*": that is administrator access. Read: the `policy`
# attribute of any resource (aws_iam_policy, role, user and group policies, bucket and queue policies, ...) and
# of a role's inline_policy blocks. A policy unknown until apply is not judged.
package gitops

import rego.v1

deny contains violation if some violation in iam_wildcard_admin_violations

iam_wildcard_admin_violations := [violation |
	some [address, where, text] in policy_texts
	document := json.unmarshal(text)
	is_object(document)
	some statement in as_list(object.get(document, "Statement", []))
	statement.Effect == "Allow"
	"*" in as_list(object.get(statement, "Action", []))
	"*" in as_list(object.get(statement, "Resource", []))
	violation := {
		"rule": "iam-wildcard-admin",
		"severity": "error",
		"address": address,
		"msg": concat("", [where, " allows every action on every resource", statement_name(statement), "; grant only what is needed"]),
	}
]

# [resource, attribute path, JSON text] of every policy document a resource the plan creates or updates holds:
# its `policy` attribute, or the `policy` of one of its blocks (a role's inline_policy).
policy_texts := policy_attributes | inline_policies

policy_attributes := {[rc.address, "policy", text] |
	some changes in changes_by_type
	some rc in changes
	text := rc.change.after.policy
	json_object_text(text)
	not unknown(rc, "policy")
	changing(rc)
}

inline_policies := {[rc.address, where, text] |
	some changes in changes_by_type
	some rc in changes
	blocks := rc.change.after.inline_policy
	is_array(blocks)
	changing(rc)
	not unknown(rc, "inline_policy")
	some i
	text := blocks[i].policy
	json_object_text(text)
	where := concat("", ["inline_policy[", format_int(i, 10), "].policy"])
}

json_object_text(text) if {
	is_string(text)
	startswith(trim_space(text), "{")
}

statement_name(statement) := concat("", [" (statement '", statement.Sid, "')"]) if {
	is_string(statement.Sid)
	statement.Sid != ""
}

statement_name(statement) := "" if not statement.Sid

statement_name(statement) := "" if statement.Sid == ""
