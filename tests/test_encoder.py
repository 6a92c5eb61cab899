import numpy as np
import pytest
import torch

from eai_llm.configuration_eai import EAISkeletonConfig
from eai_llm.modeling_eai import EAISkeletonEncoder, layout_graphs
from eai_llm.layouts import get_layout
from eai_llm.processing_eai import SkeletonProcessor



def definitions(names):
    return [get_layout(name) for name in names]


NAMES = ["xsens_mvn28", "kdae24", "kinect_v2"]
LAYOUTS = definitions(NAMES)


def tiny_config(layouts=LAYOUTS, **kwargs):
    values = dict(layouts=layouts, num_frames=16, block_channels=[8, 16], block_strides=[2, 2], token_dim=12,
                  id2label={0: "anger", 1: "fear", 2: "joy"})
    values.update(kwargs)
    return EAISkeletonConfig(**values)


def clip(layout, frames=20, seed=0):
    joints = get_layout(layout).num_joints
    return np.random.default_rng(seed).normal(scale=0.3, size=(frames, joints, 3)).astype(np.float32)


def encode(encoder, processor, clips, layouts):
    encoder.eval()
    with torch.no_grad():
        return encoder(**processor(clips, layouts, return_tensors="pt"))


def test_tokens_and_ust_masks_have_the_documented_shapes():
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(tiny_config())
    processor = SkeletonProcessor(layouts=LAYOUTS, num_frames=16, frame_padding="zero")
    out = encode(encoder, processor, [clip("kinect_v2", frames=6), clip("xsens_mvn28", frames=40)],
                 ["kinect_v2", "xsens_mvn28"])
    assert out.semantic_token.shape == (2, 12)
    assert out.spatial_tokens.shape == (2, 28, 12) and out.temporal_tokens.shape == (2, 4, 12)
    assert out.spatial_mask.tolist() == [[1] * 25 + [0] * 3, [1] * 28]
    assert out.temporal_mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]  # 6 real frames of 16 -> 2 of 4 steps
    assert torch.all(out.spatial_tokens[0, 25:] == 0) and torch.all(out.temporal_tokens[0, 2:] == 0)
    assert out.logits.shape == (2, 3)


def test_a_clip_gets_the_same_tokens_alone_and_padded_in_a_batch_with_a_wider_layout():
    torch.manual_seed(0)
    narrow = EAISkeletonEncoder(tiny_config(layouts=definitions(["kinect_v2"])))  # V = 25
    wide = EAISkeletonEncoder(tiny_config(layouts=definitions(["kinect_v2", "xsens_mvn28"])))  # V = 28
    state = {}
    for name, value in narrow.state_dict().items():
        target = wide.state_dict()[name].clone()
        target[tuple(slice(0, n) for n in value.shape)] = value  # kinect is layout 0 and joints 0..24 in both
        state[name] = target
    wide.load_state_dict(state)
    kinect = clip("kinect_v2", frames=30, seed=1)
    alone = encode(narrow, SkeletonProcessor(layouts=definitions(["kinect_v2"]), num_frames=16), kinect, "kinect_v2")
    batch = encode(wide, SkeletonProcessor(layouts=definitions(["kinect_v2", "xsens_mvn28"]), num_frames=16),
                   [clip("xsens_mvn28", seed=2), kinect], ["xsens_mvn28", "kinect_v2"])
    torch.testing.assert_close(batch.semantic_token[1], alone.semantic_token[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(batch.temporal_tokens[1], alone.temporal_tokens[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(batch.spatial_tokens[1, :25], alone.spatial_tokens[0], atol=1e-5, rtol=1e-4)
    assert torch.all(batch.spatial_tokens[1, 25:] == 0)


def test_each_layout_has_its_own_graph_without_edges_to_padding():
    adjacency, pair_mask = layout_graphs([get_layout("kinect_v2"), get_layout("kdae24")], 28)
    kinect = get_layout("kinect_v2")
    elbow, shoulder = kinect.index("ElbowLeft"), kinect.index("ShoulderLeft")
    assert adjacency[0, 1, elbow, shoulder] == 1  # the elbow hears its parent
    assert adjacency[0, 2, shoulder, elbow] > 0  # the shoulder hears its children
    assert adjacency[0, :, 25:].abs().sum() == 0 and adjacency[0, :, :, 25:].abs().sum() == 0
    assert adjacency[1, :, 24:].abs().sum() == 0 and pair_mask[1, :24, :24].all() and pair_mask[1, 24:].sum() == 0
    torch.testing.assert_close(adjacency[0, 2].sum(-1)[:25].max(), torch.tensor(1.0))


def test_gradients_reach_every_block_and_head():
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(tiny_config())
    processor = SkeletonProcessor(layouts=LAYOUTS, num_frames=16)
    batch = processor([clip(name, seed=i) for i, name in enumerate(NAMES)], NAMES, return_tensors="pt")
    out = encoder(**batch)
    loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 2])) \
        + out.spatial_tokens.pow(2).mean() + out.temporal_tokens.pow(2).mean()
    loss.backward()
    for name in ("input_norm.weight", "blocks.0.graph.value.weight", "blocks.0.graph.adjacency",
                 "blocks.0.graph.alpha", "blocks.1.temporal.branches.0.4.weight", "semantic_head.weight",
                 "spatial_head.weight", "temporal_head.weight", "classifier.weight"):
        grad = dict(encoder.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(tiny_config())
    with torch.no_grad():  # move away from the initial values so the round trip is not trivially equal
        for parameter in encoder.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    encoder.save_pretrained(tmp_path)
    loaded = EAISkeletonEncoder.from_pretrained(tmp_path)
    assert loaded.config.id2label == {0: "anger", 1: "fear", 2: "joy"}
    processor = SkeletonProcessor(layouts=LAYOUTS, num_frames=16)
    clips, names = [clip(n, seed=i) for i, n in enumerate(NAMES)], NAMES
    torch.testing.assert_close(encode(loaded, processor, clips, names).logits,
                               encode(encoder, processor, clips, names).logits)


@pytest.mark.parametrize("kwargs, message", [
    (dict(block_channels=[8, 16], block_strides=[2]), "same non-zero length"),
    (dict(block_channels=[8, 16], block_strides=[2, 3]), "not divisible"),
    (dict(block_channels=[8, 6], block_strides=[1, 1]), "multiples of 4"),
    (dict(token_dim=0), "'token_dim' is 0"),
    (dict(temporal_kernel_size=4), "'temporal_kernel_size' is 4, expected an odd number"),
])
def test_bad_configs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**kwargs)


def test_a_layout_not_in_the_registry_is_rejected():
    with pytest.raises(KeyError, match="unknown joint layout 'openpose'"):
        tiny_config(layouts=definitions(["kinect_v2", "openpose"]))


def test_bad_batches_are_rejected():
    encoder = EAISkeletonEncoder(tiny_config())
    batch = SkeletonProcessor(layouts=LAYOUTS, num_frames=16)([clip("kdae24")] * 2, "kdae24", return_tensors="pt")
    empty = dict(batch, joint_mask=batch["joint_mask"] * torch.tensor([[1], [0]]))
    with pytest.raises(ValueError, match=r"samples \[1\] have an all-zero joint_mask"):
        encoder(**empty)
    no_frames = dict(batch, frame_mask=batch["frame_mask"] * torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match=r"samples \[0\] have an all-zero joint_mask or frame_mask"):
        encoder(**no_frames)
    with pytest.raises(ValueError, match="layout_ids has"):
        encoder(**dict(batch, layout_ids=torch.tensor([0, 3])))
    with pytest.raises(ValueError, match=r"expected \(B, 3, 16, 28\)"):
        encoder(**dict(batch, skeleton_values=batch["skeleton_values"][:, :, :8]))


FUSED = dict(descriptor_names=["root_speed", "tremor"], descriptor_mean=[0.5, 0.02], descriptor_scale=[0.25, 0.01])


def test_descriptors_move_the_semantic_token_standardised_and_absent_ones_count_as_the_mean(tmp_path):
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(tiny_config(**FUSED)).eval()
    batch = SkeletonProcessor(layouts=LAYOUTS, num_frames=16, descriptors=FUSED["descriptor_names"])(
        [clip("kdae24")] * 4, "kdae24", 30.0, return_tensors="pt")
    batch["motion_descriptors"] = torch.tensor([[0.5, 0.02], [0.75, 0.02], [float("nan"), 0.02], [1.0, 0.02]])
    with torch.no_grad():
        semantic = encoder(**batch).semantic_token
        spatial = encoder(**batch).spatial_tokens
    weight = encoder.descriptor_head.weight[:, 0]  # one sd more root speed adds this column to the token
    torch.testing.assert_close(semantic[1] - semantic[0], weight.detach())
    torch.testing.assert_close(semantic[3] - semantic[0], 2 * weight.detach())
    torch.testing.assert_close(semantic[2], semantic[0])  # NaN: imputed with the training mean
    torch.testing.assert_close(spatial[1], spatial[0])  # the graph tokens do not read the descriptors
    encoder.save_pretrained(tmp_path)
    loaded = EAISkeletonEncoder.from_pretrained(tmp_path).eval()
    assert loaded.config.descriptor_mean == [0.5, 0.02] and loaded.config.descriptor_scale == [0.25, 0.01]
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).semantic_token, semantic)
    with pytest.raises(ValueError, match=r"motion_descriptors: none, expected \(B, 2\) values of \['root_speed', "):
        encoder(**dict(batch, motion_descriptors=None))
    with pytest.raises(ValueError, match=r"motion_descriptors: shape \(4, 3\), expected \(B, 2\)"):
        encoder(**dict(batch, motion_descriptors=torch.zeros(4, 3)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(descriptor_names=["root_speed"], descriptor_mean=[], descriptor_scale=[1.0]), "one value per name"),
    (dict(descriptor_names=["root_speed"], descriptor_mean=[float("nan")], descriptor_scale=[1.0]), "finite"),
    (dict(descriptor_names=["root_speed"], descriptor_mean=[0.0], descriptor_scale=[0.0]), "positive"),
])
def test_bad_descriptor_statistics_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**kwargs)


def test_graph_dropout_leaves_some_training_clips_their_descriptors_alone_and_none_in_eval():
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(tiny_config(**FUSED, graph_dropout=0.5))
    batch = SkeletonProcessor(layouts=LAYOUTS, num_frames=16, descriptors=FUSED["descriptor_names"])(
        [clip("kdae24", seed=i) for i in range(64)], "kdae24", 30.0, return_tensors="pt")
    batch["motion_descriptors"] = torch.tensor([[1.0, 0.03]]).repeat(64, 1)
    descriptors_alone = encoder.descriptor_head(torch.tensor([[2.0, 1.0]]))  # (1 - 0.5) / 0.25, (0.03 - 0.02) / 0.01
    with torch.no_grad():
        training = encoder.train()(**batch).semantic_token
        alone = torch.isclose(training, descriptors_alone, atol=1e-6).all(dim=1)
        assert 16 < alone.sum() < 48  # about half of 64
        assert not torch.isclose(encoder.eval()(**batch).semantic_token, descriptors_alone, atol=1e-6).all(dim=1).any()
    with pytest.raises(ValueError, match="'graph_dropout' is 1.0"):
        tiny_config(**FUSED, graph_dropout=1.0)
