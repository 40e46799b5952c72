variable "environment" {
  description = "test, prod, or ephemeral for a throwaway deploy."
  type        = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "name_suffix" {
  description = "Appended to every name; set by ephemeral test deploys so they never collide."
  type        = string
  default     = ""
}
