# A local-exec provisioner runs any command on the machine that runs Terraform, which holds the cloud credentials
# of the environment. Review such a command outside of a plan, then waive it: `no-local-exec:<address>`.
package gitops

import rego.v1

deny contains violation if {
	walk(input.configuration.root_module, [path, value])
	some provisioner in value.provisioners
	provisioner.type == "local-exec"
	names := [path[i + 1] | path[i] == "module_calls"]
	prefix := concat("", [sprintf("module.%s.", [name]) | some name in names])
	address := concat("", [prefix, value.address])
	violation := {
		"rule": "no-local-exec",
		"severity": "error",
		"address": address,
		# concat, not sprintf: regopy 1.5.2 quotes a concat result inside sprintf and then emits invalid JSON
		"msg": concat("", [address, " runs a local-exec provisioner on the Terraform runner"]),
	}
}
