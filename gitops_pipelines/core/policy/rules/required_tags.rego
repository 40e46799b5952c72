# Every taggable resource the plan creates or updates carries the tag keys in data.gitops.required_tags (from
# `policy.required_tags` in gitops.yaml; none by default, and then the rule is off). A tag counts when it is set
# on the resource or in the AWS provider's default_tags (a constant, or a variable read from the plan). A
# resource whose tags are unknown until apply is not judged.
package gitops

import rego.v1

# Not named required_tags: that is the data document this reads.
required_tag_keys := {key | some key in data.gitops.required_tags}

# Keys of the AWS providers' default_tags, from `configuration` (constants and variables).
default_tag_keys := default_tag_constants | default_tag_variables

default_tag_constants := {key |
	some provider in input.configuration.provider_config
	provider.name == "aws"
	some block in provider.expressions.default_tags
	_ = block.tags.constant_value[key]
}

default_tag_variables := {key |
	some provider in input.configuration.provider_config
	provider.name == "aws"
	some block in provider.expressions.default_tags
	some ref in block.tags.references
	startswith(ref, "var.")
	_ = input.variables[substring(ref, 4, -1)].value[key]
}

# The required keys the providers do not add.
required_keys_left := required_tag_keys - default_tag_keys

# A tags argument's planned value: null when unset (a resource without the argument has no `tags` key).
tag_map(tags) if tags == null

tag_map(tags) if is_object(tags)

# The object has every key of the set.
has_keys(object_value, keys) if count(object.filter(object_value, keys)) == count(keys)

# Set on the resource: in its tags, or in its tags_all when Terraform knows it.
tagged(_, tags, key) if _ = tags[key]

tagged(rc, _, key) if {
	not unknown(rc, "tags_all")
	_ = rc.change.after.tags_all[key]
}

deny contains violation if some violation in required_tags_violations

required_tags_violations := [violation |
	count(required_keys_left) > 0
	some changes in changes_by_type
	some rc in changes
	tags := rc.change.after.tags
	not has_keys(tags, required_keys_left) # most resources set every tag themselves: a quick test first
	tag_map(tags)
	changing(rc)
	not unknown(rc, "tags")
	missing := sort([key | some key in required_keys_left; not tagged(rc, tags, key)])
	count(missing) > 0
	violation := {
		"rule": "required-tags",
		"severity": "error",
		"address": rc.address,
		"msg": concat("", [
			"missing required tag(s) ", concat(", ", missing),
			"; set them in tags, or in the provider's default_tags",
		]),
	}
]
