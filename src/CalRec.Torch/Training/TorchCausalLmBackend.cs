using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Tensors;
using CalRec.Text.Tokenization;
using CalRec.Torch.Decoder;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CalRec.Torch.Training;

/// <summary>
/// <see cref="ICausalLmBackend"/> on TorchSharp, on whatever device the model is on: the same step as our engine's
/// (AdamW β = 0.9, 0.95 with matrices decaying, gradient-norm clipping), so <see cref="CausalLmTrainer"/> trains either
/// engine through one loop. Optimizer moments are checkpointed in TorchSharp's state format
/// (<c>optimizer.torchsharp</c>); dropout masks come from LibTorch's generator (seeded with <c>torch.manual_seed</c>),
/// whose state is not checkpointed, so a resumed run with dropout differs from an uninterrupted one.
/// </summary>
public sealed class TorchCausalLmBackend : ICausalLmBackend
{
    private const string OptimizerFile = "optimizer.torchsharp";
    private readonly TorchDecoderLM _model;
    private readonly AdamW _optimizer;
    private readonly TorchMixedPrecision? _mixed;

    /// <summary>Wraps <paramref name="model"/> with a fresh optimizer; <paramref name="seed"/> seeds LibTorch's dropout masks.</summary>
    /// <param name="model">The decoder to train (its float32 weights are the optimizer's).</param>
    /// <param name="learningRate">Initial learning rate.</param>
    /// <param name="weightDecay">Decoupled weight decay on matrices.</param>
    /// <param name="seed">Seeds LibTorch's generator (dropout masks).</param>
    /// <param name="precision">With <see cref="TrainingPrecision.BFloat16"/>, steps run on a bfloat16 working copy (<see cref="TorchMixedPrecision"/>).</param>
    public TorchCausalLmBackend(TorchDecoderLM model, float learningRate, float weightDecay, ulong seed = 0, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(model);
        random.manual_seed(unchecked((long)seed));
        _model = model;
        _optimizer = TorchAdamW.Create(model, learningRate, weightDecay, beta1: 0.9, beta2: 0.95);
        if (precision == TrainingPrecision.BFloat16)
        {
            var working = new TorchDecoderLM(model.Config);
            TorchParameters.CopyBetween(model, working);
            TorchSharp.ModuleExtensionMethods.to(working, model.TokenEmbedding.device);
            _mixed = new TorchMixedPrecision(model, working);
        }
    }

    /// <summary>The model being trained.</summary>
    public TorchDecoderLM Model => _model;

    /// <inheritdoc />
    public DecoderConfig Config => _model.Config;

    /// <inheritdoc />
    public string Name => "torchsharp";

    /// <inheritdoc />
    public long OptimizerSteps { get; private set; }

    /// <inheritdoc />
    public SeededRandom? DropoutGenerator => null;

    /// <inheritdoc />
    public float TrainStep(IReadOnlyList<TokenBatch> microBatches, float learningRate, float clipNorm)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        _model.train();
        foreach (var group in _optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }

        _optimizer.zero_grad();
        _mixed?.PullWeights();
        TorchDecoderLM net = (TorchDecoderLM?)_mixed?.Working ?? _model;
        net.train();
        double total = 0;
        foreach (TokenBatch micro in microBatches)
        {
            using var scope = NewDisposeScope();
            Tensor loss = net.Loss(Tokens(micro.Ids, micro.Batch, micro.Seq), Tokens(micro.Targets, micro.Batch, micro.Seq));
            total += loss.item<float>() * micro.Share;
            (microBatches.Count == 1 ? loss : loss * micro.Share).backward();
        }

        _mixed?.PushGradients();
        using (NewDisposeScope())
        {
            nn.utils.clip_grad_norm_(_model.parameters(), clipNorm);
            _optimizer.step();
        }

        OptimizerSteps++;
        return (float)total;
    }

    /// <inheritdoc />
    public float Loss(int[] ids, int[] targets, int batch, int seq)
    {
        bool training = _model.training;
        _model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            return _model.Loss(Tokens(ids, batch, seq), Tokens(targets, batch, seq)).item<float>();
        }
        finally
        {
            _model.train(training);
        }
    }

    /// <inheritdoc />
    public void WriteModel(string folder, ByteLevelBpeTokenizer? tokenizer)
    {
        var managed = new DecoderLM(_model.Config);
        TorchWeights.CopyInto(_model, managed);
        HuggingFaceCheckpoint.WriteFiles(managed, tokenizer, folder);
    }

    /// <inheritdoc />
    public void WriteOptimizer(string folder) => _optimizer.save_state_dict(Path.Combine(folder, OptimizerFile));

    /// <inheritdoc />
    public void RestoreOptimizer(string folder, long steps)
    {
        _optimizer.load_state_dict(Path.Combine(folder, OptimizerFile));
        OptimizerSteps = steps;
    }

    private Tensor Tokens(int[] values, int batch, int seq) =>
        tensor(values.AsSpan(0, batch * seq).ToArray().Select(v => (long)v).ToArray(), [batch, seq], device: _model.TokenEmbedding.device);
}
