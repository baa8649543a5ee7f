using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Recommenders.MetaLearning;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;
using CalRec.Tensors.Optim;
using CalRec.Tensors.Serialization;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

public sealed partial class CalRecTrainer
{
    /// <summary>
    /// A resumable CALRec checkpoint folder, written atomically. In stage 0 it is the LM trainer's own checkpoint
    /// (<c>trainer_state.json</c>); in the finetuning stages it holds config.json, tokenizer.json, the current weights
    /// (adapters included), the best weights so far, the optimizer moments and <c>state.json</c> (stage, epoch, step,
    /// early-stopping record, dropout generator). Either way, a run of several members keeps those that finished in
    /// <c>members/k/</c> (the backbone in Hugging Face layout, and member.json); the state is the next member's.
    /// </summary>
    internal sealed class CheckpointState
    {
        private const string MembersFolder = "members", MemberFile = "member.json";
        private const string DataFile = "data.json", AverageFile = "average.safetensors", WeightsFile = "weights.safetensors", BestFile = "best.safetensors", OptimizerFile = "optimizer.safetensors";
        private readonly string _dir;
        private readonly JsonObject? _state;

        private CheckpointState(string dir, string phase, JsonObject? state)
        {
            _dir = dir;
            Phase = phase;
            _state = state;
        }

        public string Phase { get; }

        public int Epoch => _state?["epoch"]?.GetValue<int>() ?? 0;

        public int Step => _state?["step"]?.GetValue<int>() ?? 0;

        public int Stale => _state?["stale"]?.GetValue<int>() ?? 0;

        /// <summary>The stage's training time before the checkpoint (it counts against the stage's minutes).</summary>
        public TimeSpan Elapsed => TimeSpan.FromSeconds(_state?["elapsed_seconds"]?.GetValue<double>() ?? 0);

        /// <summary>The whole run's training time before the checkpoint, finished members and earlier stages included (none in checkpoints older than this record).</summary>
        public TimeSpan RunElapsed { get; private init; }

        /// <summary>Where the stage continues.</summary>
        public TrainingPosition Position => new(Epoch, Step);

        private static TimeSpan RunSeconds(JsonObject? state) => TimeSpan.FromSeconds(state?["run_seconds"]?.GetValue<double>() ?? 0);

        // A JSON object file of the checkpoint, or a one-line error naming it.
        private static JsonObject ReadObject(string path)
        {
            try
            {
                return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex);
            }
        }

        public static CheckpointState Read(string dir)
        {
            string state = Path.Combine(dir, StateFile);
            if (File.Exists(state))
            {
                JsonObject o = ReadObject(state);

                if (o["format_version"]?.GetValue<int>() is not 1)
                {
                    throw new InvalidDataException($"{state}: unsupported format_version {o["format_version"]} (this build reads version 1).");
                }

                return new CheckpointState(dir, o["phase"]?.GetValue<string>() ?? throw new InvalidDataException($"{state}: no 'phase'."), o) { RunElapsed = RunSeconds(o) };
            }

            string pretrain = Path.Combine(dir, "trainer_state.json");
            if (File.Exists(pretrain))
            {
                // Stage 0's checkpoint is the LM trainer's; the run's own record is in its extra object.
                return new CheckpointState(dir, CalRecPhase.Pretrain, null) { RunElapsed = RunSeconds(ReadObject(pretrain)["extra"] as JsonObject) };
            }

            throw new DirectoryNotFoundException($"--resume: {dir} holds no CALRec checkpoint (no {StateFile} or trainer_state.json).");
        }

        public (DecoderLM Model, ByteLevelBpeTokenizer Tokenizer) LoadBackbone()
        {
            if (Phase == CalRecPhase.Pretrain)
            {
                return HuggingFaceCheckpoint.LoadWithTokenizer(_dir);
            }

            DecoderConfig config = DecoderConfig.Load(Path.Combine(_dir, "config.json"));
            return (new DecoderLM(config), ByteLevelBpeTokenizer.FromFile(Path.Combine(_dir, "tokenizer.json")));
        }

        /// <summary>
        /// Loads the current weights into <paramref name="model"/> (after any adapters are attached), the best ones into
        /// <paramref name="best"/> and the best validation NDCG@10 into <paramref name="selection"/>.
        /// </summary>
        public void RestoreWeights(DecoderLM model, EarlyStopping selection, WeightsSnapshot best)
        {
            if (Phase == CalRecPhase.Pretrain)
            {
                return;
            }

            using (TensorScope.Begin())
            {
                using var reader = new SafeTensorsReader(Path.Combine(_dir, WeightsFile));
                LoadStateDictResult r = model.load_state_dict(reader.ReadAll(), strict: false);
                if (r.MissingKeys.Count > 0 || r.UnexpectedKeys.Count > 0)
                {
                    throw new InvalidDataException($"{_dir}: the checkpoint's weights do not match the model (missing: {string.Join(", ", r.MissingKeys.Take(3))}; unexpected: {string.Join(", ", r.UnexpectedKeys.Take(3))}). Resume with the settings of the interrupted run.");
                }
            }

            string bestPath = Path.Combine(_dir, BestFile);
            if (_state!["best_ndcg"]?.GetValue<double>() is double ndcg && File.Exists(bestPath))
            {
                using TensorScope scope = TensorScope.Begin();
                using var reader = new SafeTensorsReader(bestPath);
                best.Set(name => reader.Contains(name) ? reader.ReadTensor(name).ToArray() : null, bestPath);
                selection.Restore(ndcg, Stale, validations: 0);
            }

            TrainingCheckpoint.RestoreRandom(model.DropoutGenerator, _state["dropout_rng"], Path.Combine(_dir, StateFile));
        }

        /// <summary>
        /// Writes the run's settings (without the run-local checkpoint fields), the data it trains on
        /// (<see cref="DataOf"/>) and the members that finished training into a checkpoint folder being staged.
        /// </summary>
        public static void WriteRun(string folder, Options options, JsonObject data, IReadOnlyList<Member> members)
        {
            File.WriteAllText(Path.Combine(folder, Options.CheckpointOptionsFile), options.ToJson());
            File.WriteAllText(Path.Combine(folder, DataFile), data.ToJsonString());
            for (int k = 0; k < members.Count; k++)
            {
                Member m = members[k];
                string dir = Directory.CreateDirectory(Path.Combine(folder, MembersFolder, k.ToString(CultureInfo.InvariantCulture))).FullName;
                HuggingFaceCheckpoint.WriteFiles(m.Model, m.Tokenizer, dir);
                File.WriteAllText(Path.Combine(dir, MemberFile), new JsonObject
                {
                    ["epochs"] = m.Epochs,
                    ["validation_ndcg10"] = m.ValidationNdcg10,
                    ["max_history_tokens"] = m.Settings.MaxHistoryTokens,
                    ["identity_token_base"] = m.Settings.IdentityTokenBase,
                }.ToJsonString());
            }
        }

        /// <summary>The members that had finished training when the checkpoint was written, in order (none for a single model's run).</summary>
        public IReadOnlyList<Member> ReadMembers(Options options)
        {
            var members = new List<Member>();
            Text.Templates.ItemTextTemplate? template = options.Template is null ? null : Text.Templates.ItemTextTemplate.Parse(options.Template);
            for (int k = 0; Directory.Exists(Path.Combine(_dir, MembersFolder, k.ToString(CultureInfo.InvariantCulture))); k++)
            {
                string dir = Path.Combine(_dir, MembersFolder, k.ToString(CultureInfo.InvariantCulture));
                string json = Path.Combine(dir, MemberFile);
                JsonObject o = ReadObject(json);

                (DecoderLM model, ByteLevelBpeTokenizer tokenizer) = HuggingFaceCheckpoint.LoadWithTokenizer(dir);
                model.eval();
                var settings = new CalRecSettings(template, options.Pooling, options.MaxHistory, options.MaxItemTokens,
                    o["max_history_tokens"]?.GetValue<int>() ?? throw new InvalidDataException($"{json}: no 'max_history_tokens'."), o["identity_token_base"]?.GetValue<int>());
                members.Add(new Member(model, tokenizer, settings, o["epochs"]?.GetValue<int>() ?? 0,
                    o["validation_ndcg10"]?.GetValue<double>()));
            }

            return members;
        }

        /// <summary>The data a run trains on, as its checkpoint records it: name and size of the target and of each mixture dataset, in order.</summary>
        public static JsonObject DataOf(LeaveOneOutSplit target, IReadOnlyList<InteractionDataset> mixture) =>
            new() { ["target"] = Describe(target.Data), ["mixture"] = new JsonArray([.. mixture.Select(Describe)]) };

        /// <summary>
        /// Refuses to resume on other data than the interrupted run's (a resumed run without its mixture would skip the
        /// rest of stage 1 and still finish). Checkpoints written before the record existed are not checked.
        /// </summary>
        public void CheckData(JsonObject data)
        {
            string path = Path.Combine(_dir, DataFile);
            if (!File.Exists(path))
            {
                return;
            }

            JsonNode? saved;
            try
            {
                saved = JsonNode.Parse(File.ReadAllText(path));
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex);
            }

            if (!JsonNode.DeepEquals(saved, data))
            {
                throw new ArgumentException($"--resume: {_dir} is a run on {Summary(saved)}; this one was given {Summary(data)}. Resume with the interrupted run's target and mixture.");
            }
        }

        private static JsonObject Describe(InteractionDataset d) => new() { ["name"] = d.Name, ["users"] = d.Users.Count, ["interactions"] = d.InteractionCount };

        private static string Summary(JsonNode? data)
        {
            static string One(JsonNode? d) => string.Create(CultureInfo.InvariantCulture, $"{d?["name"]} ({d?["users"]?.GetValue<int>():N0} users)");
            JsonArray mixture = data?["mixture"] as JsonArray ?? [];
            return $"target {One(data?["target"])}, mixture {(mixture.Count == 0 ? "none" : string.Join(", ", mixture.Select(One)))}";
        }

        /// <summary>Restores the stage's weight average (a checkpoint written in the same stage with averaging on holds one).</summary>
        public void RestoreAverage(WeightAverage average)
        {
            string path = Path.Combine(_dir, AverageFile);
            if (_state?["average_updates"]?.GetValue<long>() is not long updates || !File.Exists(path))
            {
                throw new InvalidDataException($"{_dir}: the checkpoint holds no weight average; resume with the settings of the interrupted run.");
            }

            using TensorScope scope = TensorScope.Begin();
            using var reader = new SafeTensorsReader(path);
            average.Restore(name => reader.Contains(name) ? reader.ReadTensor(name).ToArray() : null, updates, path);
        }

        /// <summary>Restores a meta-learning stage's task generator and, for first-order MAML, its outer optimizer.</summary>
        public void RestoreMetaLearning(DecoderLM model, MetaLearner learner, SeededRandom tasks)
        {
            if (learner.Outer is { } outer)
            {
                RestoreOptimizer(model, outer);
            }

            TrainingCheckpoint.RestoreRandom(tasks, _state!["task_rng"], Path.Combine(_dir, StateFile));
        }

        public void RestoreOptimizer(DecoderLM model, AdamWOptimizer optimizer)
        {
            TrainingCheckpoint.RestoreOptimizer(optimizer, model, Path.Combine(_dir, OptimizerFile));
            optimizer.RestoreStepCount(_state!["optimizer_step"]!.GetValue<long>());
        }

        /// <summary>
        /// Writes the run's state atomically: settings, backbone config and tokenizer, weights, best weights, the
        /// optimizer's moments (none for a stage without an AdamW, Reptile's), position, the stage's and the whole run's time
        /// used, generators.
        /// </summary>
        public static void Write(string dir, Options options, JsonObject data, IReadOnlyList<Member> members, DecoderLM model, ByteLevelBpeTokenizer tokenizer, AdamWOptimizer? optimizer, EarlyStopping selection, WeightsSnapshot best,
            string phase, TrainingPosition next, TimeSpan elapsed, TimeSpan runElapsed, SeededRandom? tasks = null, WeightAverage? average = null) =>
            AtomicDirectory.Write(dir, tmp =>
            {
                WriteRun(tmp, options, data, members);
                model.Config.Save(Path.Combine(tmp, "config.json"));
                tokenizer.Save(Path.Combine(tmp, "tokenizer.json"));
                SafeTensorsWriter.Save(Path.Combine(tmp, WeightsFile), model.state_dict());
                if (best.HasValues)
                {
                    using (TensorScope.Begin())
                    {
                        SafeTensorsWriter.Save(Path.Combine(tmp, BestFile), best.Values.Select(x => new KeyValuePair<string, ManagedTensor>(x.Name, ManagedTensor.from(x.Values, x.Values.Length))).ToList());
                    }
                }

                if (average is not null)
                {
                    using (TensorScope.Begin())
                    {
                        SafeTensorsWriter.Save(Path.Combine(tmp, AverageFile), average.Values.Select(x => new KeyValuePair<string, ManagedTensor>(x.Name, ManagedTensor.from(x.Values, x.Values.Length))).ToList());
                    }
                }

                if (optimizer is not null)
                {
                    TrainingCheckpoint.SaveOptimizer(optimizer, model, Path.Combine(tmp, OptimizerFile));
                }

                var state = new JsonObject
                {
                    ["format_version"] = 1,
                    ["phase"] = phase,
                    ["epoch"] = next.Epoch,
                    ["step"] = next.Step,
                    ["elapsed_seconds"] = elapsed.TotalSeconds,
                    ["run_seconds"] = runElapsed.TotalSeconds,
                    ["stale"] = selection.Stale,
                    ["best_ndcg"] = selection.Best,
                    ["optimizer_step"] = optimizer?.StepCount ?? 0,
                    ["dropout_rng"] = TrainingCheckpoint.RandomState(model.DropoutGenerator),
                    ["task_rng"] = tasks is null ? null : TrainingCheckpoint.RandomState(tasks),
                    ["average_updates"] = average?.Updates,
                };
                File.WriteAllText(Path.Combine(tmp, StateFile), state.ToJsonString());
            });
    }
}
