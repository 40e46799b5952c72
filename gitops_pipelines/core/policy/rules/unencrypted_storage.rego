# Databases and EBS volumes are encrypted at rest. A flag unknown until apply (the account's default applies) is
# not judged.
package gitops

import rego.v1

encryption_flag := {"aws_db_instance": "storage_encrypted", "aws_rds_cluster": "storage_encrypted", "aws_ebs_volume": "encrypted"}

deny contains violation if some violation in unencrypted_storage_violations

unencrypted_storage_violations := [violation |
	some type in object.keys(encryption_flag)
	some rc in changes_by_type[type]
	flag := encryption_flag[type]
	not rc.change.after[flag] == true
	not unknown(rc, flag)
	changing(rc)
	violation := {
		"rule": "unencrypted-storage",
		"severity": "error",
		"address": rc.address,
		"msg": concat("", [type, " is not encrypted at rest; set ", flag, " = true"]),
	}
]
