"""Cost estimation: price books, the Kubernetes (OpenCost) and Terraform cost models, FOCUS-derived
prices and FinOps budget annotations. Everything here is pure: inputs are model values."""

from tollgate.cost.annotations import Money, check_budgets, format_money, parse_money
from tollgate.cost.estimate import estimate_change_costs, state_cost
from tollgate.cost.focus_prices import FocusInstancePrices, instance_prices_from_focus, pricebook_with_focus
from tollgate.cost.kubernetes import ContainerUsage, HpaBounds, WorkloadEstimate, estimate_workload, find_hpas
from tollgate.cost.pricebook import (
    default_pricebook,
    instance_price,
    load_pricebook,
    merge_pricebooks,
    with_instances,
)
from tollgate.cost.terraform import InstanceEstimate, TerraformIndex, estimate_terraform

__all__ = [
    "ContainerUsage",
    "FocusInstancePrices",
    "HpaBounds",
    "InstanceEstimate",
    "Money",
    "TerraformIndex",
    "WorkloadEstimate",
    "check_budgets",
    "default_pricebook",
    "estimate_change_costs",
    "estimate_terraform",
    "estimate_workload",
    "find_hpas",
    "format_money",
    "instance_price",
    "instance_prices_from_focus",
    "load_pricebook",
    "merge_pricebooks",
    "parse_money",
    "pricebook_with_focus",
    "state_cost",
    "with_instances",
]
