# Helpers the default pack's rules share, over the JSON of `terraform show -json <planfile>`. Copy this file with
# any rule you take: conftest loads every file of the folder, e.g.
#   conftest test --namespace gitops --data context.json plan.json
# where context.json is {"gitops_context": {"environment": "prod", "production": true},
#                        "gitops": {"required_tags": ["owner"]}}.
#
# Written for regopy 1.5.2 (which gitops-pipelines runs them with) as well as OPA:
# - messages are built with concat, never sprintf of a computed string (regopy quotes it, then emits bad JSON);
# - no `some k, v in` inside a comprehension (regopy does not parse it): `some k; v := x[k]`;
# - rules read resources from changes_by_type, only the types they judge (all of them: `some changes in
#   changes_by_type; some rc in changes`), and blocks from config_resources, never input.resource_changes or
#   input.configuration.root_module, which gitops-pipelines' input does not have (see pack.py);
# - never collect whole resources into a list, never hand a resource, its `after` or a list of blocks to a
#   builtin such as object.get or to a function that returns it: regopy copies them and gets slow;
# - a body runs in its order: the test that fails most often first, and a quick one (a lookup, one builtin on a
#   small value) before a costly one (a comprehension, a function of several definitions);
# - a rule's findings are a comprehension (`deny contains violation if some violation in <rule>_violations`):
#   regopy evaluates a comprehension about twice as fast as a multi-value rule body.
package gitops

import rego.v1

# An instance key: [0], ["eu"] (a quoted key may hold a bracket).
instance_key := `\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]`

# input.resource_changes has one entry per instance: inside modules, under count and for_each. Data sources are
# not judged.
managed(rc) if rc.mode == "managed"

# The managed resource changes by type: {"aws_s3_bucket": [resource change, ...], ...}. gitops-pipelines passes
# them so grouped (input.gitops.changes_by_type, see pack.py: without the changes that leave a resource as it is,
# which no rule reads but for a few types); with conftest they are grouped here from input.resource_changes.
changes_by_type := input.gitops.changes_by_type if input.gitops.grouped == true

changes_by_type := {type: [rc | some rc in input.resource_changes; rc.type == type; managed(rc)] |
	some type in {rc.type | some rc in input.resource_changes}
} if not input.gitops.grouped

# Created or updated by this plan: what a policy gate is about. (Of a managed resource: from changes_by_type.)
changing(rc) if "create" in rc.change.actions

changing(rc) if "update" in rc.change.actions

# Exists after apply (created, updated, replaced or untouched).
staying(rc) if {
	rc.change.actions != ["delete"]
	not "forget" in rc.change.actions
}

# Terraform knows the value only after apply.
unknown(rc, attr) if rc.change.after_unknown[attr] == true

# The planned value; undefined when it is unknown until apply or absent.
known(rc, attr) := value if {
	value := rc.change.after[attr]
	not rc.change.after_unknown[attr] == true
}

# The address in configuration: module instance keys and the resource's own index dropped. gitops-pipelines
# adds it to each resource change (regex.replace is slow in regopy); with conftest it is computed.
config_address(rc) := rc.config_address

config_address(rc) := regex.replace(rc.address, instance_key, "") if not rc.config_address

# Every resource block of `configuration`, modules included: [address prefix ("module.a.module.b."), block].
# gitops-pipelines lists them in its input (walk is slow in regopy); with conftest they are found here.
config_resources := input.gitops.config_resources if input.gitops.grouped == true

config_resources := [[prefix, block] |
	walk(input.configuration.root_module, [path, module])
	module_path(path)
	names := [path[i + 1] | path[i] == "module_calls"]
	prefix := concat("", [concat("", ["module.", name, "."]) | some name in names])
	some block in module.resources
] if not input.gitops.grouped

# A path that walk gives for a module: [] or ["module_calls", name, "module", ...].
module_path(path) if count(path) == 0

module_path(path) if {
	count(path) > 0
	count(path) % 3 == 0
	not misplaced_step(path)
}

misplaced_step(path) if {
	some i
	path[i] != ["module_calls", path[i], "module"][i % 3]
}

# Resources that belong to a bucket and name it in their `bucket` argument.
bucket_companions := {"aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration"}

# [companion type, config address of a bucket] for each companion block whose `bucket` refers to the bucket in
# `configuration`: how it is matched when the bucket's name, and so the companion's `bucket`, is unknown until
# apply (a bucket_prefix, a name built from another resource). A block with no instance in the plan (count = 0)
# covers nothing.
companion_references := {[block.type, address] |
	some [prefix, block] in config_resources
	block.type in bucket_companions
	concat("", [prefix, block.address]) in planned_companions
	some ref in block.expressions.bucket.references
	parts := split(regex.replace(ref, instance_key, ""), ".")
	parts[0] == "aws_s3_bucket"
	address := concat("", [prefix, parts[0], ".", parts[1]])
}

planned_companions := {config_address(rc) |
	some type in bucket_companions
	some rc in changes_by_type[type]
	staying(rc)
}

# [companion type, bucket name] for each companion whose planned `bucket` is known.
companion_names := {[type, name] |
	some type in bucket_companions
	some rc in changes_by_type[type]
	name := known(rc, "bucket")
	staying(rc)
}

has_companion(bucket, companion) if [companion, config_address(bucket)] in companion_references

has_companion(bucket, companion) if [companion, known(bucket, "bucket")] in companion_names

# The four flags of an S3 public access block.
public_access_flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

# A public access block's attributes when it blocks all: object.subset(after, this) is a quick test of it.
all_public_access_blocked := {flag: true | some flag in public_access_flags}

# An S3 bucket (of changes_by_type.aws_s3_bucket) this plan creates or replaces.
new_bucket(rc) if "create" in rc.change.actions

as_list(value) := value if is_array(value)

as_list(value) := [value] if not is_array(value)

# A known list attribute of a resource; [] when unset, null or unknown until apply.
known_list(rc, attr) := value if {
	value := known(rc, attr)
	is_array(value)
}

known_list(rc, attr) := [] if not has_known_list(rc, attr)

has_known_list(rc, attr) if is_array(known(rc, attr))

# A known attribute of a resource; null when unset or unknown until apply.
known_or_null(rc, attr) := value if value := known(rc, attr)

known_or_null(rc, attr) := null if not has_known(rc, attr)

has_known(rc, attr) if _ = known(rc, attr)
