terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
  backend "s3" {}
}

provider "aws" {
  region                      = var.region
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}

# The web site's files: the modules repository's bucket module, pinned to one release.
module "site" {
  source = "git::https://github.com/acme/modules.git//modules/bucket?ref=bucket/v0.1.0"

  name          = "acme-${var.environment}${var.name_suffix}-site"
  force_destroy = var.environment != "prod"
  versioning    = false
  tags = {
    environment = var.environment
    team        = "web"
  }
}

output "site_bucket" {
  value = module.site.bucket_name
}
