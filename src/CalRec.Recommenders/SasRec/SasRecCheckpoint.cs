using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Models.Checkpoints;
using CalRec.Models.Training;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Tensors.Serialization;

namespace CalRec.Recommenders.SasRec;

/// <summary>
/// SASRec's resumable training state (after an epoch, or between two steps when a run is cancelled), written atomically as a folder: the weights and the best
/// epoch's weights (<c>weights.safetensors</c>), the optimizer moments (<c>optimizer.safetensors</c>), and
/// <c>state.json</c> (epoch and step, generators, batch order, early-stopping record, time used, the settings). A run resumed
/// from it continues exactly as the uninterrupted one would (same seed and thread count).
/// </summary>
internal sealed class SasRecCheckpoint
{
    private const string StateFile = "state.json";
    private const string WeightsFile = "weights.safetensors";
    private const string OptimizerFile = "optimizer.safetensors";
    private const int FormatVersion = 1;
    private readonly JsonObject _state;

    private SasRecCheckpoint(string directory, JsonObject state)
    {
        Directory = directory;
        _state = state;
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>Epochs completed.</summary>
    public int Epoch => _state["epoch"]!.GetValue<int>();

    /// <summary>The first step of the resumed run (a checkpoint written after an epoch: step 0 of the next).</summary>
    public TrainingPosition Position => new(Epoch, _state["step"]?.GetValue<int>() ?? 0);

    /// <summary>The epoch whose weights were the best so far.</summary>
    public int BestEpoch => _state["best_epoch"]!.GetValue<int>();

    /// <summary>Training time used before the checkpoint (for the minutes budget).</summary>
    public TimeSpan Elapsed => TimeSpan.FromSeconds(_state["elapsed_seconds"]!.GetValue<double>());

    /// <summary>The settings the run started with.</summary>
    public SasRecTrainer.Options Options => _state["options"].Deserialize<SasRecTrainer.Options>(Json)!;

    private static JsonSerializerOptions Json { get; } = new() { WriteIndented = false };

    /// <summary>The settings saved in <paramref name="directory"/>, to continue that run.</summary>
    public static SasRecTrainer.Options ReadOptions(string directory) => Read(directory).Options with
    {
        CheckpointDirectory = Path.GetFullPath(directory),
        Resume = true,
    };

    public static void Write(string directory, SasRecTrainer.Options options, TrainingPosition next, int bestEpoch, TimeSpan elapsed, SasRecNetwork model, AdamWOptimizer optimizer,
        SeededRandom order, SeededRandom negatives, SasRecBatches batches, EarlyStopping selection, WeightsSnapshot best) => AtomicDirectory.Write(directory, tmp =>
    {
        using (TensorScope.Begin())
        {
            var tensors = new Dictionary<string, ManagedTensor>(StringComparer.Ordinal);
            foreach ((string name, ManagedTensor p) in model.named_parameters())
            {
                tensors["model." + name] = p;
            }

            foreach ((string name, float[] values) in best.Values)
            {
                tensors["best." + name] = ManagedTensor.from(values, values.Length);
            }

            SafeTensorsWriter.Save(Path.Combine(tmp, WeightsFile), tensors);
        }

        TrainingCheckpoint.SaveOptimizer(optimizer, model, Path.Combine(tmp, OptimizerFile));
        var state = new JsonObject
        {
            ["format_version"] = FormatVersion,
            ["epoch"] = next.Epoch,
            ["step"] = next.Step,
            ["best_epoch"] = bestEpoch,
            ["elapsed_seconds"] = elapsed.TotalSeconds,
            ["optimizer_step"] = optimizer.StepCount,
            ["order_rng"] = TrainingCheckpoint.RandomState(order),
            ["negatives_rng"] = TrainingCheckpoint.RandomState(negatives),
            ["dropout_rng"] = TrainingCheckpoint.RandomState(model.DropoutGenerator),
            ["batches"] = new JsonArray(batches.Arrangement.Select(i => (JsonNode)i).ToArray()),
            ["best"] = selection.Best,
            ["stale"] = selection.Stale,
            ["validations"] = selection.Validations,
            ["options"] = JsonSerializer.SerializeToNode(options with { CheckpointDirectory = null, Resume = false, InitialItemEmbeddings = null }, Json),
        };
        File.WriteAllText(Path.Combine(tmp, StateFile), state.ToJsonString());
    });

    public static SasRecCheckpoint Read(string directory)
    {
        string path = Path.Combine(directory, StateFile);
        if (!File.Exists(path))
        {
            throw new DirectoryNotFoundException($"--resume: {directory} holds no SASRec checkpoint (no {StateFile}).");
        }

        try
        {
            JsonObject state = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
            return state["format_version"]?.GetValue<int>() == FormatVersion
                ? new SasRecCheckpoint(directory, state)
                : throw new InvalidDataException($"{path}: unsupported format_version {state["format_version"]} (this build reads version {FormatVersion}).");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex);
        }
    }

    /// <summary>Puts the saved state into a freshly built run (same settings and data).</summary>
    public void Restore(SasRecNetwork model, AdamWOptimizer optimizer, SeededRandom order, SeededRandom negatives, SasRecBatches batches, EarlyStopping selection, WeightsSnapshot best)
    {
        string path = Path.Combine(Directory, StateFile);
        using (var reader = new SafeTensorsReader(Path.Combine(Directory, WeightsFile)))
        {
            foreach ((string name, ManagedTensor p) in model.named_parameters())
            {
                using ManagedTensor saved = reader.ReadTensor("model." + name);
                if (saved.numel != p.numel)
                {
                    throw new InvalidDataException($"{Directory}: '{name}' has {saved.numel} values, the model {p.numel}: the checkpoint is of another catalogue or settings.");
                }

                saved.Data.CopyTo(p.Data);
            }

            if (reader.Names.Any(n => n.StartsWith("best.", StringComparison.Ordinal)))
            {
                var values = reader.Names.Where(n => n.StartsWith("best.", StringComparison.Ordinal))
                    .ToDictionary(n => n["best.".Length..], n => { using ManagedTensor t = reader.ReadTensor(n); return t.ToArray(); }, StringComparer.Ordinal);
                best.Set(name => values.GetValueOrDefault(name), Directory);
            }
        }

        TrainingCheckpoint.RestoreOptimizer(optimizer, model, Path.Combine(Directory, OptimizerFile));
        optimizer.RestoreStepCount(_state["optimizer_step"]!.GetValue<long>());
        TrainingCheckpoint.RestoreRandom(order, _state["order_rng"], path);
        TrainingCheckpoint.RestoreRandom(negatives, _state["negatives_rng"], path);
        TrainingCheckpoint.RestoreRandom(model.DropoutGenerator, _state["dropout_rng"], path);
        batches.Restore(_state["batches"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray(), path);
        selection.Restore(_state["best"]?.GetValue<double>(), _state["stale"]!.GetValue<int>(), _state["validations"]!.GetValue<int>());
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"epoch {Epoch}, step {Position.Step} in {Directory}");
}
