# Destroying or replacing a resource in production needs a waiver in gitops.yaml. Whether the environment is a
# production one is data.gitops_context.production (gitops-pipelines sets it: prod, production, prod-eu, ...).
package gitops

import rego.v1

deny contains violation if some violation in destroy_in_prod_violations

destroy_in_prod_violations := [violation |
	data.gitops_context.production == true
	some changes in changes_by_type
	some rc in changes
	"delete" in rc.change.actions
	violation := {
		"rule": "destroy-in-prod",
		"severity": "error",
		"address": rc.address,
		"msg": concat("", [
			"would be ", destroy_what(rc), " in ", data.gitops_context.environment,
			"; waive `destroy-in-prod` for ", rc.address, " in gitops.yaml if intended",
		]),
	}
]

destroy_what(rc) := "replaced (destroyed, then created)" if "create" in rc.change.actions

destroy_what(rc) := "destroyed" if not "create" in rc.change.actions
