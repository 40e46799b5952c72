# Ingress from anywhere (0.0.0.0/0 or ::/0) only on ports 80 and 443: never SSH, RDP, a database or all ports.
# Inline rules of aws_security_group, aws_security_group_rule and aws_vpc_security_group_ingress_rule are judged;
# a CIDR list unknown until apply is not.
package gitops

import rego.v1

open_cidrs := {"0.0.0.0/0", "::/0"}

web_ports := {80, 443}

# [address, CIDRs open to the internet (sorted), protocol, from port, to port] of every ingress rule the plan
# creates or updates that admits 0.0.0.0/0 or ::/0.
open_ingress := group_ingress | rule_ingress | vpc_ingress

group_ingress := {[rc.address, open_to, object.get(rule, "protocol", ""), object.get(rule, "from_port", null), object.get(rule, "to_port", null)] |
	some rc in changes_by_type.aws_security_group
	changing(rc)
	not unknown(rc, "ingress")
	rules := rc.change.after.ingress
	is_array(rules)
	some rule in rules
	some_open_cidr(rule) # a quick test first: most rules are not open to the internet
	open_to := sort([cidr |
		some attr in ["cidr_blocks", "ipv6_cidr_blocks"]
		cidrs := rule[attr]
		is_array(cidrs)
		some cidr in cidrs
		cidr in open_cidrs
	])
	count(open_to) > 0
}

rule_ingress := {[rc.address, open_to, known_or_null(rc, "protocol"), known_or_null(rc, "from_port"), known_or_null(rc, "to_port")] |
	some rc in changes_by_type.aws_security_group_rule
	changing(rc)
	known(rc, "type") == "ingress"
	open_to := sort([cidr | some attr in ["cidr_blocks", "ipv6_cidr_blocks"]; some cidr in known_list(rc, attr); cidr in open_cidrs])
	count(open_to) > 0
}

vpc_ingress := {[rc.address, open_to, known_or_null(rc, "ip_protocol"), known_or_null(rc, "from_port"), known_or_null(rc, "to_port")] |
	some rc in changes_by_type.aws_vpc_security_group_ingress_rule
	changing(rc)
	open_to := sort([cidr | some attr in ["cidr_ipv4", "cidr_ipv6"]; cidr := known(rc, attr); is_string(cidr); cidr in open_cidrs])
	count(open_to) > 0
}

some_open_cidr(rule) if {
	some cidr in rule.cidr_blocks
	cidr in open_cidrs
}

some_open_cidr(rule) if {
	some cidr in rule.ipv6_cidr_blocks
	cidr in open_cidrs
}

# ICMP has types, not ports.
icmp(protocol) if lower(format_value(protocol)) in {"icmp", "icmpv6", "1", "58"}

all_ports(protocol, _, _) if lower(format_value(protocol)) in {"-1", "all"}

all_ports(_, from_port, _) if from_port == null

all_ports(_, _, to_port) if to_port == null

format_value(value) := value if is_string(value)

format_value(value) := format_int(value, 10) if is_number(value)

format_value(value) := "" if value == null

ports(protocol, from_port, to_port) := "all ports" if all_ports(protocol, from_port, to_port)

ports(protocol, from_port, to_port) := concat("", ["port ", format_int(from_port, 10)]) if {
	not all_ports(protocol, from_port, to_port)
	from_port == to_port
}

ports(protocol, from_port, to_port) := concat("", ["ports ", format_int(from_port, 10), "-", format_int(to_port, 10)]) if {
	not all_ports(protocol, from_port, to_port)
	from_port != to_port
}

web_only(protocol, from_port, to_port) if {
	from_port == to_port
	from_port in web_ports
	not all_ports(protocol, from_port, to_port)
}

deny contains violation if some violation in sg_open_ingress_violations

sg_open_ingress_violations := [violation |
	some [address, open_to, protocol, from_port, to_port] in open_ingress
	not web_only(protocol, from_port, to_port)
	not icmp(protocol)
	violation := {
		"rule": "sg-open-ingress",
		"severity": "error",
		"address": address,
		"msg": concat("", [
			"ingress from ", concat(" and ", open_to), " on ", ports(protocol, from_port, to_port),
			"; only 80 and 443 may be open to the internet",
		]),
	}
]
