# The inputs of the web-app module: what each application fills in.

variable "app_name" {
  type        = string
  description = "The service's name, shown everywhere: lower case letters, digits and dashes."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}$", var.app_name))
    error_message = "app_name must start with a letter and hold only lower case letters, digits and dashes (at most 41)."
  }
}

variable "application_version" {
  type        = string
  description = "The version label; a change deploys a new revision."
}

variable "command" {
  type        = list(string)
  description = "The program and its arguments. A program written ./x is relative to this module; pass \"$${path.module}/bin/app\" from the caller for one of its own."
}

variable "working_dir" {
  type        = string
  default     = null
  description = "Where the command runs; the root configuration's directory when left out."
}

variable "env" {
  type        = map(string)
  default     = {}
  description = "Environment variables for the application."
}

variable "secrets" {
  type        = map(string)
  default     = {}
  sensitive   = true
  description = "Environment variables whose values are never shown in plans, logs or the API."
}

variable "desired_count" {
  type    = number
  default = 2
  validation {
    condition     = var.desired_count >= 1 && var.desired_count <= 20
    error_message = "desired_count must be between 1 and 20."
  }
}

variable "attach_to_load_balancer" {
  type        = string
  description = "Which load balancer routes to the app: \"internal\" or \"public\"."
  validation {
    condition     = contains(["internal", "public"], var.attach_to_load_balancer)
    error_message = "attach_to_load_balancer must be \"internal\" or \"public\"."
  }
}

variable "lb_pattern" {
  type        = string
  default     = "/*"
  description = "The path pattern routed to the app, ALB-style: \"/reporting*\"."
  validation {
    condition     = startswith(var.lb_pattern, "/")
    error_message = "lb_pattern must start with /, like \"/reporting*\"."
  }
}

variable "lb_rule_number" {
  type        = number
  default     = null
  description = "The route's priority, like an ALB rule number: lower wins. Left out: after every numbered route."
  validation {
    condition     = var.lb_rule_number == null ? true : var.lb_rule_number >= 1 && var.lb_rule_number <= 50000
    error_message = "lb_rule_number must be between 1 and 50000."
  }
}

variable "health_check_path" {
  type    = string
  default = "/health"
}

variable "health_check_period" {
  type        = string
  default     = "30s"
  description = "How long failing health checks are not counted after an instance starts, like ECS's grace period."
}

variable "deploy_strategy" {
  type    = string
  default = "blue_green"
  validation {
    condition     = contains(["blue_green", "rolling"], var.deploy_strategy)
    error_message = "deploy_strategy must be \"blue_green\" or \"rolling\"."
  }
}

variable "rolling_batch_size" {
  type        = number
  default     = 1
  description = "With deploy_strategy = \"rolling\": instances replaced at a time."
}

variable "keep_previous" {
  type        = string
  default     = "5m"
  description = "How long the old revision stays warm for an instant rollback (blue_green)."
}
