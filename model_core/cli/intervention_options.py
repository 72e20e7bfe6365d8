"""The intervention options `trace` and `generate` share: --ablate L.H, --ablate-mlp L, --ablate-attention L,
--ablate-block L, --ablate-mode, --attention-temperature T [--temperature-layer L], and steering from two
prompts (--steer-towards A --steer-away B --steer-layer L --steer-strength S).

What can be checked without the model (the notation, T ≤ 0) is a usage error before it loads; what
needs the model (a head or layer that does not exist) is refused by the engine with a sentence, before
any hook is placed."""

from __future__ import annotations

import argparse

from model_core.cli.common import UsageError
from model_core.types.interventions import (
    ATTENTION,
    BLOCK,
    HEAD,
    MLP,
    Ablation,
    AttentionTemperature,
    InterventionError,
    InterventionSet,
    parse_head,
)


def add_intervention_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("interventions (the model as changed by them)")
    group.add_argument("--ablate", action="append", default=[], metavar="L.H",
                       help="ablate head H of layer L (repeatable), e.g. --ablate 23.4")
    group.add_argument("--ablate-attention", action="append", default=[], type=int, metavar="L",
                       help="ablate all of layer L's attention (repeatable)")
    group.add_argument("--ablate-mlp", action="append", default=[], type=int, metavar="L",
                       help="ablate layer L's MLP (repeatable)")
    group.add_argument("--ablate-block", action="append", default=[], type=int, metavar="L",
                       help="skip block L: it hands its input on unchanged (repeatable)")
    group.add_argument("--ablate-mode", choices=("zero", "mean"), default="zero",
                       help="zero, or the mean over the prompt's positions (default zero)")
    group.add_argument("--attention-temperature", type=float, metavar="T",
                       help="divide every attention score by T before the softmax (1 = the trained model)")
    group.add_argument("--temperature-layer", type=int, metavar="L",
                       help="with --attention-temperature: only in layer L (default: every layer)")
    group.add_argument("--steer-towards", metavar="TEXT", help="steer towards TEXT (with --steer-away)")
    group.add_argument("--steer-away", metavar="TEXT", help="steer away from TEXT (with --steer-towards)")
    group.add_argument("--steer-layer", type=int, default=None, metavar="L",
                       help="the layer whose input is steered (default: a third of the way in)")
    group.add_argument("--steer-strength", type=float, default=4.0, metavar="S",
                       help="how many times the direction is added (default 4)")


def interventions_from(args: argparse.Namespace) -> InterventionSet:
    """The ablations and temperature the options describe (steering needs the model: `apply_interventions`)."""
    items = []
    try:
        for text in args.ablate:
            layer, head = parse_head(text)
            items.append(Ablation(HEAD, layer, head, args.ablate_mode))
    except InterventionError as exc:
        raise UsageError(f"--ablate: {exc}") from None
    for kind, layers in ((ATTENTION, args.ablate_attention), (MLP, args.ablate_mlp), (BLOCK, args.ablate_block)):
        items += [Ablation(kind, layer, None, args.ablate_mode) for layer in layers]
    if args.attention_temperature is not None:
        if not args.attention_temperature > 0:
            raise UsageError(f"--attention-temperature must be above 0 (got {args.attention_temperature:g}): "
                             "attention scores are divided by it.")
        items.append(AttentionTemperature(args.attention_temperature, args.temperature_layer))
    elif args.temperature_layer is not None:
        raise UsageError("--temperature-layer needs --attention-temperature.")
    if (args.steer_towards is None) != (args.steer_away is None):
        raise UsageError("steering needs both --steer-towards and --steer-away.")
    return InterventionSet(tuple(items))


def apply_interventions(lm, args: argparse.Namespace) -> InterventionSet:
    """Put the options' interventions on the loaded model (InterventionError says what is wrong)."""
    from model_core.engine.interventions.applied import set_interventions
    from model_core.engine.interventions.steering import steering_from_prompts

    interventions = interventions_from(args)
    if args.steer_towards is not None:
        layer = args.steer_layer if args.steer_layer is not None else lm.info.n_layers // 3
        interventions = interventions.with_item(
            steering_from_prompts(lm, args.steer_towards, args.steer_away, layer, args.steer_strength))
    return set_interventions(lm, interventions)


def interventions_json(interventions: InterventionSet) -> list[dict]:
    """Each intervention as the label a person reads and its fields (steering without its long vector)."""
    from model_core.types.interventions import to_dict

    rows = []
    for item in interventions:
        row = {k: v for k, v in to_dict(item).items() if k != "vector"}
        rows.append({"label": item.label(), **row})
    return rows
