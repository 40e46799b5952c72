# A local-exec provisioner runs any command on the machine that runs Terraform, which holds the cloud credentials
# of the environment. Review such a command outside of a plan, then waive it: `no-local-exec:<address>`. Read from
# `configuration`, so the address is the resource block's (module path kept, instance keys dropped).
package gitops

import rego.v1

deny contains violation if some violation in no_local_exec_violations

no_local_exec_violations := [violation |
	some [prefix, block] in config_resources
	some provisioner in block.provisioners
	provisioner.type == "local-exec"
	address := concat("", [prefix, block.address])
	violation := {
		"rule": "no-local-exec",
		"severity": "error",
		"address": address,
		"msg": concat("", [address, " runs a local-exec provisioner on the Terraform runner"]),
	}
]
