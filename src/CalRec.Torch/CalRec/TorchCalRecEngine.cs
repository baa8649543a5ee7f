using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Recommenders.CalRec;
using CalRec.Torch.Decoder;
using CalRec.Tensors.Optim;
using CalRec.Torch.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CalRec.Torch.CalRec;

/// <summary>
/// <see cref="ICalRecEngine"/> on TorchSharp: a stage's weights copied onto the device, CALRec's step
/// (<see cref="TorchCalRecObjective"/>, AdamW configured like ours, gradient-norm clipping), validation through the
/// towers on the device (<see cref="TorchCalRecTowers"/>), and the weights copied back for a new best validation, a
/// checkpoint and the stage's end. A model with LoRA adapters gets the same adapters on
/// the device (only they train). Its AdamW moments and step count go into CALRec's checkpoints through our optimizer
/// (<see cref="CopyOptimizerStateTo"/>) and come back on resume (<see cref="LoadOptimizerStateFrom"/>).
/// </summary>
public sealed class TorchCalRecEngine : ICalRecEngine
{
    private readonly TorchDecoderLM _model;
    private readonly AdamW _optimizer;
    private readonly CalRecStepSettings _settings;
    private readonly TorchMixedPrecision? _mixed;
    private Tensor? _negatives;
    private (ItemNegativeBank? Bank, int Version) _negativesSource;
    private (float Decay, List<(string Name, Parameter Weight, Tensor Average)> Pairs)? _average;
    private long _averageUpdates;

    /// <summary>
    /// Copies <paramref name="model"/> onto <paramref name="device"/> with a fresh optimizer; with
    /// <see cref="TrainingPrecision.BFloat16"/> the steps run on a bfloat16 working copy (<see cref="TorchMixedPrecision"/>).
    /// </summary>
    public TorchCalRecEngine(DecoderLM model, CalRecStepSettings settings, Device device, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        random.manual_seed(unchecked((long)settings.Seed));
        _model = TorchWeights.ToTorch(model, device);
        _model.train();
        if (precision == TrainingPrecision.BFloat16)
        {
            _mixed = new TorchMixedPrecision(_model, TorchWeights.ToTorch(model, device));
            _mixed.Working.train();
        }

        _optimizer = TorchAdamW.Create(_model, learningRate: 1e-3, settings.WeightDecay, settings.Beta1, settings.Beta2);
        Towers = new TorchCalRecTowers(_model);
    }

    /// <inheritdoc />
    public ICalRecTowers Towers { get; }

    /// <summary>The factory to give <see cref="CalRecTrainer.Engine"/> for training on <paramref name="device"/>.</summary>
    public static CalRecEngineFactory On(Device device, TrainingPrecision precision = TrainingPrecision.Float32) =>
        (model, settings) => new TorchCalRecEngine(model, settings, device, precision);

    /// <inheritdoc />
    public LossValues Step(IReadOnlyList<HistoryBatch> microBatches, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        foreach (var group in _optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }

        _optimizer.zero_grad();
        _mixed?.PullWeights();
        TorchDecoderLM net = (TorchDecoderLM?)_mixed?.Working ?? _model;
        var values = new List<LossValues>(microBatches.Count);
        foreach (HistoryBatch batch in microBatches)
        {
            Tensor? negatives = DeviceNegatives(batch.Negatives);
            using var scope = NewDisposeScope();
            Tensor loss = TorchCalRecObjective.Loss(net, batch, _settings.Weights.ShareOf(batch, microBatches), _settings.Pooling, _settings.Temperature, out LossValues v, negatives);
            loss.backward();
            values.Add(v);
        }

        _mixed?.PushGradients();
        using (NewDisposeScope())
        {
            nn.utils.clip_grad_norm_(_model.parameters().Where(p => p.requires_grad), _settings.ClipNorm);
            _optimizer.step();
        }

        UpdateAverage();
        return LossValues.Combine(values, microBatches, _settings.Weights);
    }

    /// <inheritdoc />
    public void StartAverage(WeightAverage average)
    {
        ArgumentNullException.ThrowIfNull(average);
        DisposeAverage();
        var weights = _model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var pairs = new List<(string Name, Parameter Weight, Tensor Average)>();
        foreach ((string name, float[] values) in average.Values)
        {
            Parameter weight = weights.TryGetValue(name, out Parameter? p) ? p : throw new InvalidOperationException($"The engine has no parameter '{name}' to average.");
            pairs.Add((name, weight, tensor(values, weight.shape, device: weight.device)));
        }

        _average = (average.Decay, pairs);
        _averageUpdates = average.Updates;
    }

    /// <inheritdoc />
    public void SwapAverage()
    {
        using var noGrad = no_grad();
        foreach ((_, Parameter weight, Tensor average) in AveragePairs())
        {
            using Tensor values = weight.detach().clone();
            weight.copy_(average);
            average.copy_(values);
        }
    }

    /// <inheritdoc />
    public void CopyAverageTo(WeightAverage average)
    {
        ArgumentNullException.ThrowIfNull(average);
        Dictionary<string, Tensor> byName = AveragePairs().ToDictionary(x => x.Name, x => x.Average, StringComparer.Ordinal);
        average.Restore(name => byName.TryGetValue(name, out Tensor? a) ? a.detach().cpu().contiguous().data<float>().ToArray() : null, _averageUpdates, "the TorchSharp engine's average");
    }

    private List<(string Name, Parameter Weight, Tensor Average)> AveragePairs() =>
        _average?.Pairs ?? throw new InvalidOperationException("The engine keeps no weight average: call StartAverage first.");

    // After each step, as WeightAverage.Update does on our engine.
    private void UpdateAverage()
    {
        if (_average is not { } average)
        {
            return;
        }

        float d = WeightAverage.DecayAt(_averageUpdates, average.Decay);
        using var noGrad = no_grad();
        foreach ((_, Parameter weight, Tensor a) in average.Pairs)
        {
            a.mul_(d);
            a.add_(weight, alpha: 1f - d);
        }

        _averageUpdates++;
    }

    private void DisposeAverage()
    {
        foreach ((_, _, Tensor a) in _average?.Pairs ?? [])
        {
            a.Dispose();
        }

        _average = null;
    }

    // The bank moves to the device once per refresh, not once per step.
    private Tensor? DeviceNegatives(ItemNegativeBank? bank)
    {
        if (bank is null)
        {
            return null;
        }

        if (_negativesSource.Bank != bank || _negativesSource.Version != bank.Version)
        {
            _negatives?.Dispose();
            _negatives = tensor(bank.Vectors, [bank.Count, bank.Dimension], device: _model.TokenEmbedding.device);
            _negativesSource = (bank, bank.Version);
        }

        return _negatives;
    }

    /// <inheritdoc />
    public void CopyWeightsTo(DecoderLM model) => TorchWeights.CopyInto(_model, model);

    /// <inheritdoc />
    public void CopyOptimizerStateTo(DecoderLM model, AdamWOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        TorchAdamW.CopyStateTo(_optimizer, _model, model.named_parameters(), optimizer);
    }

    /// <inheritdoc />
    public void LoadOptimizerStateFrom(DecoderLM model, AdamWOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        TorchAdamW.LoadStateFrom(_optimizer, _model, model.named_parameters(), optimizer);
    }

    /// <summary>The master weights' gradients of the last step into <paramref name="model"/>'s parameters' values (for tests).</summary>
    internal void CopyGradientsTo(DecoderLM model)
    {
        var grads = _model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad, StringComparer.Ordinal);
        foreach ((string name, var p) in model.named_parameters())
        {
            if (grads[name] is { } g)
            {
                using Tensor values = g.detach().to(ScalarType.Float32).cpu().contiguous();
                values.data<float>().CopyTo(p.Data);
            }
            else
            {
                p.Data.Clear();
            }
        }
    }

    /// <summary>Releases the device copy.</summary>
    public void Dispose()
    {
        _mixed?.Dispose();
        _negatives?.Dispose();
        DisposeAverage();
        _optimizer.Dispose();
        _model.Dispose();
    }
}
