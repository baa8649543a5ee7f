using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Models.Adapters;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Models.Training;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MetaLearning;
using CalRec.Tensors;
using CalRec.Tensors.LinearAlgebra;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

/// <summary>The names of CALRec's training phases, as progress reports, checkpoints and training curves spell them.</summary>
public static class CalRecPhase
{
    /// <summary>Stage 0: LM pretraining of a backbone trained from scratch.</summary>
    public const string Pretrain = "pretrain";

    /// <summary>Stage 1: finetuning on the mixture of domains (plain or meta-learning).</summary>
    public const string Stage1 = "stage1";

    /// <summary>Stage 2: finetuning on the target domain.</summary>
    public const string Stage2 = "stage2";
}

/// <summary>Progress of CALRec training, raised after every optimizer step.</summary>
/// <param name="Phase">One of <see cref="CalRecPhase"/>'s names: stage 0, stage 1 (mixture) or stage 2 (target).</param>
/// <param name="Epoch">1-based epoch within the stage (0 in pretraining).</param>
/// <param name="Step">1-based step within the stage.</param>
/// <param name="TotalSteps">Planned steps of the stage.</param>
/// <param name="Loss">Weighted total loss of the step.</param>
/// <param name="LmLoss">L_NIG (NaN when its weight is zero).</param>
/// <param name="ItemItemLoss">L_TT (NaN when its weight is zero).</param>
/// <param name="UserItemLoss">L_UT (NaN when its weight is zero).</param>
/// <param name="TokensPerSecond">Training throughput of the stage so far.</param>
/// <param name="ValidationNdcg10">Validation NDCG@10 when measured after this step, else null.</param>
/// <param name="Remaining">Estimated time left in the stage.</param>
/// <param name="Member">0-based index of the member being trained (<see cref="CalRecTrainer.Options.Members"/>).</param>
public sealed record CalRecProgress(string Phase, int Epoch, int Step, int TotalSteps, float Loss, float LmLoss, float ItemItemLoss, float UserItemLoss,
    double TokensPerSecond, double? ValidationNdcg10, TimeSpan Remaining, int Member = 0)
{
    /// <summary>The phase as progress views and training curves name it: with the member after the first, e.g. "stage2 (member 2)".</summary>
    public string Label => Member == 0 ? Phase : string.Create(CultureInfo.InvariantCulture, $"{Phase} (member {Member + 1})");
}

/// <summary>
/// CALRec (Li et al., RecSys 2024): a decoder LM finetuned two-tower style on text-serialized histories and items with
/// L = w_lm·L_NIG + w_tt·L_TT + w_ut·L_UT. Stage 0 (when the backbone is trained from scratch) pretrains the LM on item
/// texts and serialized training histories; stage 1 finetunes on a mixture of domains; stage 2 on the target domain.
/// Model selection uses the target's validation NDCG@10; test targets, and every user's validation and test items, never
/// reach any stage. The fitted <see cref="CalRecModel"/> retrieves densely: user tower vs precomputed item tower.
/// </summary>
public sealed partial class CalRecTrainer : RecommenderTrainer
{
    /// <summary>The kind of the models this trainer fits (<see cref="RecommenderModel.Kind"/>).</summary>
    public const string ModelKind = "calrec";

    private const string StateFile = "state.json";
    private readonly RecContext _context;
    private readonly Options _options;

    /// <summary>The data of the run being fitted, written into its checkpoints (<see cref="CheckpointState.DataOf"/>).</summary>
    private JsonObject _data = [];

    /// <summary>The members of the run being fitted that have finished training (written into its checkpoints).</summary>
    private readonly List<Member> _members = [];

    /// <summary>The member being trained (0-based) and its seed, <see cref="Options.Seed"/> + the member's index.</summary>
    private int _member;
    private ulong _seed;

    /// <summary>The run's training time: this call's clock plus what the sessions before a resume used (the model's record).</summary>
    private readonly Stopwatch _clock = new();
    private TimeSpan _timeBefore;

    private TimeSpan RunTime => _timeBefore + _clock.Elapsed;

    internal CalRecTrainer(RecContext context, Options options)
    {
        _context = context;
        _options = options;
    }

    /// <summary>Raised after every optimizer step of every phase.</summary>
    public event EventHandler<CalRecProgress>? Progress;

    /// <summary>
    /// The engine of the finetuning stages (null: our own); the stages' validations run on it too. Stage 0 pretraining,
    /// the fitted model's item index and grounding stay on our engine; with LoRA the engine trains the same adapters
    /// (base weights frozen); meta-learning stages need our engine (an engine given with them is an error).
    /// </summary>
    public CalRecEngineFactory? Engine { get; set; }

    /// <summary>The trainer's settings.</summary>
    public Options TrainerOptions => _options;

    /// <summary>Test hook: receives (phase, dataset name, user id, item ids) of every training sequence a phase uses.</summary>
    internal Action<string, string, string, string[]>? TrainingDataObserver { get; set; }

    /// <summary>Splits <paramref name="data"/> leave-one-out and trains on it alone (stage 1 is skipped: there is no mixture).</summary>
    public new CalRecModel Fit(InteractionDataset data, CancellationToken cancellation = default) => Fit(new LeaveOneOutSplit(data), [], cancellation);

    /// <summary>Trains on the target only (stage 1 is skipped: there is no mixture).</summary>
    public override CalRecModel Fit(LeaveOneOutSplit split, CancellationToken cancellation = default) => Fit(split, [], cancellation);

    /// <summary>Splits <paramref name="target"/> leave-one-out and trains with <paramref name="mixture"/> as stage 1's domains.</summary>
    public CalRecModel Fit(InteractionDataset target, IReadOnlyList<InteractionDataset> mixture, CancellationToken cancellation = default) =>
        Fit(new LeaveOneOutSplit(target), mixture, cancellation);

    /// <summary>
    /// Trains on <paramref name="target"/>'s training sequences, with stage 1 on the training parts of
    /// <paramref name="mixture"/> (one domain per dataset; include the target there to have it in the mixture). A user
    /// present in both keeps, in the mixture, only what precedes the first of their target validation or test items.
    /// </summary>
    public CalRecModel Fit(LeaveOneOutSplit target, IReadOnlyList<InteractionDataset> mixture, CancellationToken cancellation = default)
    {
        Options o = _options;
        o.Validate();
        if (Engine is not null && o.Meta is not null)
        {
            throw new NotSupportedException("Meta-learning stages run on our engine only: leave the engine unset (--backend managed) for them.");
        }

        _clock.Restart();
        if (target.Validation.Count == 0)
        {
            throw new ArgumentException($"Dataset '{target.Data.Name}' has no user with three or more interactions: nothing to validate on.");
        }

        ItemTextTemplate? template = o.Template is null ? null : ItemTextTemplate.Parse(o.Template);
        var sources = new List<TrainingSource> { TrainingSource.FromSplit(target) };
        var targetSources = new List<int> { 0 };
        Dictionary<string, HashSet<string>> heldOut = HeldOut(target);
        foreach (InteractionDataset m in mixture)
        {
            if (ReferenceEquals(m, target.Data))
            {
                targetSources.Add(sources.Count);
            }

            sources.Add(ReferenceEquals(m, target.Data) ? TrainingSource.FromSplit(target) : new(m.Name, m.Items, m.Users, LeakFreeTrain(m, heldOut)));
        }

        _data = CheckpointState.DataOf(target, mixture);
        CheckpointState? resumed = o.Resume ? CheckpointState.Read(o.CheckpointDirectory!) : null;
        resumed?.CheckData(_data);
        _timeBefore = resumed?.RunElapsed ?? TimeSpan.Zero;
        _members.Clear();
        if (resumed is not null)
        {
            _members.AddRange(resumed.ReadMembers(o));
        }

        var validation = ValidationSample(target, o.Seed);
        ByteLevelBpeTokenizer? tokenizer = _members.Count > 0 ? _members[0].Tokenizer : null;
        for (int k = _members.Count; k < o.Members; k++)
        {
            _member = k;
            _seed = o.Seed + (ulong)k;
            if (o.Members > 1)
            {
                _context.Report(ModelKind, $"member {k + 1} of {o.Members} (seed {_seed})");
            }

            // Each member selects its weights as the single run of its seed does (on that seed's sample when not all users).
            Member member = TrainMember(target, mixture, sources, targetSources, template, tokenizer, ValidationSample(target, _seed), resumed, cancellation);
            tokenizer = member.Tokenizer;
            _members.Add(member);
            resumed = null;
        }

        _member = 0;
        _seed = o.Seed;
        _context.Report(ModelKind, $"encoding {target.Data.ItemCount:N0} catalogue items with the item tower{(o.Members > 1 ? $" of each of the {o.Members} members" : string.Empty)}");
        float[] popularity = new float[target.Data.ItemCount];
        foreach (int[] s in target.Train)
        {
            foreach (int i in s)
            {
                popularity[i]++;
            }
        }

        // The members share the tokenizer, the settings and so the target's item texts.
        CalRecSettings settings = _members[0].Settings;
        var targetTable = new ItemTextTable(target.Data.Items, _members[0].Tokenizer, template, o.MaxItemTokens, settings.IdentityTokenBase);
        var scorers = new List<CalRecScorer>(_members.Count);
        foreach (Member m in _members)
        {
            scorers.Add(new CalRecScorer(m.Model, m.Tokenizer, targetTable, settings, CalRecScorer.EncodeCatalogue(m.Model, targetTable, o.Pooling, cancellation), popularity,
                identityWeight: IdentityWeight(settings)));
        }

        double? best = _members.Count == 1 ? _members[0].ValidationNdcg10 : null;
        var info = new TrainingInfo(target.Data.Name, DateTimeOffset.UtcNow, RunTime.TotalSeconds, _members.Sum(m => m.Epochs), best, SettingsOf(o, mixture));
        var fitted = new CalRecModel(scorers, target.Data.Items, info);
        if (settings.IdentityTokenBase is null)
        {
            return _members.Count == 1 ? fitted : WithValidation(fitted, Validate(fitted, validation));
        }

        // The identity head stays in the scores (λ = τ) unless the two towers alone do better on the validation users.
        (CalRecModel chosen, IReadOnlyList<(float Weight, double Ndcg10)> candidates) = fitted.TuneIdentityWeight(validation, [o.Temperature, 0f]);
        _context.Report(ModelKind, string.Create(CultureInfo.InvariantCulture,
            $"identity head: validation NDCG@10 {candidates[0].Ndcg10:F4} with λ = τ, {candidates[1].Ndcg10:F4} without; λ = {chosen.Towers.IdentityWeight}"));
        return _members.Count == 1 ? chosen : WithValidation(chosen, candidates.Max(c => c.Ndcg10));
    }

    // A model of several members records the validation NDCG@10 of their mean scores (each member's best is in the log).
    private static CalRecModel WithValidation(CalRecModel model, double ndcg) =>
        new(model.Members, model.Catalog, model.Training with { ValidationNdcg10 = ndcg }, model.Grounding);

    private static double Validate(CalRecModel model, IReadOnlyList<EvaluationCase> validation) =>
        RecommendationEvaluator.Evaluate(model, validation, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;

    /// <summary>
    /// One member of the fitted model, trained with seed <see cref="_seed"/>: its backbone (stage 0 when from scratch,
    /// sharing <paramref name="sharedTokenizer"/> when an earlier member trained it), identity tokens, stage 1 and stage 2,
    /// the best validated weights kept and adapters merged.
    /// </summary>
    private Member TrainMember(LeaveOneOutSplit target, IReadOnlyList<InteractionDataset> mixture, List<TrainingSource> sources, List<int> targetSources,
        ItemTextTemplate? template, ByteLevelBpeTokenizer? sharedTokenizer, IReadOnlyList<EvaluationCase> validation, CheckpointState? resumed, CancellationToken cancellation)
    {
        Options o = _options;
        // A checkpoint written after stage 0 already holds the identity tokens.
        bool resumedWithIdentities = o.ItemIdentityTokens && resumed is { Phase: not (null or CalRecPhase.Pretrain) };
        // The tokenizer and stage 0 read each dataset once (a target that is also in the mixture is not taken twice),
        // then the target PretrainTargetWeight - 1 more times, first.
        int skip = targetSources.Count > 1 ? 1 : 0;
        int[] stage0 = [.. Enumerable.Repeat(0, o.PretrainTargetWeight - 1), .. Enumerable.Range(skip, sources.Count - skip)];
        (DecoderLM model, ByteLevelBpeTokenizer tokenizer, bool fromScratch) = Backbone(stage0.Select(i => sources[i]).ToList(), template, resumed, sharedTokenizer);
        var tables = sources.Select(s => new ItemTextTable(s.Items, tokenizer, template, o.MaxItemTokens)).ToList();
        int maxHistoryTokens = Math.Min(model.Config.MaxPositions, (o.MaxHistory + 1) * (o.MaxItemTokens + (o.ItemIdentityTokens ? 2 : 1)));
        var examples = sources.Select((s, i) => TrainingWindows.Cut(tables[i], i, s.Train, o.MaxHistory + 1, maxHistoryTokens)).ToList();
        int epochsRun = 0;

        if (fromScratch && o.PretrainSteps > 0 && resumed?.Phase is null or CalRecPhase.Pretrain)
        {
            Pretrain(model, tokenizer, stage0.Select(i => tables[i]).ToList(), stage0.Select(i => examples[i]).ToList(), sources, resumed, cancellation);
            resumed = null;
            if (o.SavePretrainedTo is { } pretrained && _member == 0)
            {
                HuggingFaceCheckpoint.Save(model, tokenizer, pretrained);
                _context.Report(ModelKind, $"stage-0 backbone saved to {pretrained}");
            }
        }

        int? identityBase = null;
        if (o.ItemIdentityTokens)
        {
            // The item-ID hybrid: one new token per target item after the vocabulary, its embedding starting as the mean of
            // the item's text tokens; the target's items (in stage 2 and in the mixture) then start with their own token.
            int count = target.Data.ItemCount;
            identityBase = resumedWithIdentities ? model.Config.VocabSize - count : model.Config.VocabSize;
            if (!resumedWithIdentities)
            {
                ItemTextTable text = tables[0];
                model = model.WithAddedTokens(count, item => text.Tokens(item), _seed);
                if (o.IdentityInit == IdentityInitialization.MiniLm)
                {
                    _context.Report(ModelKind, $"identity tokens start from MiniLM's embeddings of the {count:N0} target item texts");
                    using var minilm = new MiniLmTextEncoder();
                    float[] vectors = minilm.Encode(target.Data.Items.Select(i => ItemTextTable.Render(i, template)).ToList(), cancellation);
                    InitializeIdentityRows(model, model.Config.VocabSize - count, vectors, minilm.Dimension);
                }

                _context.Report(ModelKind, $"item identity tokens: ids {identityBase:N0}..{identityBase + count - 1:N0} for the {count:N0} target items");
            }

            foreach (int i in targetSources)
            {
                tables[i] = new ItemTextTable(sources[i].Items, tokenizer, template, o.MaxItemTokens, identityBase);
                examples[i] = TrainingWindows.Cut(tables[i], i, sources[i].Train, o.MaxHistory + 1, maxHistoryTokens);
            }
        }

        if (o.Dropout is float dropout && dropout != model.Config.Dropout)
        {
            model = model.WithDropout(dropout, _seed);
        }

        var settings = new CalRecSettings(template, o.Pooling, o.MaxHistory, o.MaxItemTokens, maxHistoryTokens, identityBase);
        IReadOnlyList<ManagedTensor> trainable = o.LoraRank > 0
            ? LoraAdapters.Apply(model, new LoraConfig { Rank = o.LoraRank, Alpha = o.LoraAlpha, Dropout = o.LoraDropout, TargetModules = model.Config.LinearModuleNames }, _seed)
            : model.parameters().ToList();
        if (o.LoraRank > 0 && identityBase is not null)
        {
            // New tokens under LoRA, as PEFT's modules_to_save: the embedding table (and an untied output projection)
            // train in full beside the adapters, or the identity tokens would keep their initial rows.
            ManagedTensor[] embeddings = model.LmHead is null ? [model.TokenEmbedding] : [model.TokenEmbedding, model.OutputWeight];
            foreach (ManagedTensor table in embeddings)
            {
                table.requires_grad = true;
            }

            trainable = [.. trainable, .. embeddings];
        }
        // Model selection carries across stages (the best validated weights so far); patience restarts with each stage.
        var selection = new EarlyStopping(higherIsBetter: true, o.Patience);
        var best = new WeightsSnapshot(model.named_parameters());
        if (resumed is not null)
        {
            resumed.RestoreWeights(model, selection, best);
        }

        var stages = new List<(string Phase, CalRecStageOptions Stage, List<List<HistoryExample>> Components)>();
        if (o.Stage1.Enabled && o.Stage1.Epochs > 0 && mixture.Count > 0)
        {
            stages.Add((CalRecPhase.Stage1, o.Stage1, examples.Skip(1).ToList()));
        }
        else
        {
            _context.Report(ModelKind, mixture.Count == 0 ? "stage 1 skipped: no mixture datasets" : "stage 1 skipped by its settings");
        }

        if (o.Stage2.Enabled && o.Stage2.Epochs > 0)
        {
            List<HistoryExample> targetExamples = o.FewShotExamples > 0 ? examples[0].Take(o.FewShotExamples).ToList() : examples[0];
            if (o.FewShotExamples > 0)
            {
                _context.Report(ModelKind, $"stage 2 is few-shot: the first {targetExamples.Count:N0} of {examples[0].Count:N0} target training windows");
            }

            stages.Add((CalRecPhase.Stage2, o.Stage2, [targetExamples]));
        }

        for (int s = 0; s < stages.Count; s++)
        {
            (string phase, CalRecStageOptions stage, List<List<HistoryExample>> components) = stages[s];
            if (resumed is not null && resumed.Phase != phase)
            {
                if (stages.FindIndex(x => x.Phase == resumed.Phase) > s)
                {
                    continue;
                }
            }

            TraceData(phase, components, sources);
            if (resumed is null)
            {
                // A stage starts from the best weights so far (model selection on validation carries across stages).
                best.Restore();
            }

            if (phase == CalRecPhase.Stage1 && o.Meta is not null)
            {
                RunMetaStage(stage, components, model, tokenizer, trainable, selection, best, tables[0], settings, validation, resumed?.Phase == phase ? resumed : null, cancellation);
            }
            else
            {
                epochsRun += RunStage(phase, stage, components, model, tokenizer, trainable, selection, best, tables[0], settings, validation, resumed?.Phase == phase ? resumed : null, cancellation);
            }

            resumed = null;
        }

        best.Restore();
        if (o.LoraRank > 0)
        {
            LoraAdapters.Merge(model);
        }

        model.eval();
        return new Member(model, tokenizer, settings, epochsRun, selection.Best);
    }

    private (DecoderLM Model, ByteLevelBpeTokenizer Tokenizer, bool FromScratch) Backbone(
        List<TrainingSource> sources, ItemTextTemplate? template, CheckpointState? resumed, ByteLevelBpeTokenizer? sharedTokenizer)
    {
        Options o = _options;
        bool isFolder = Directory.Exists(o.Backbone);
        if (resumed is not null)
        {
            (DecoderLM m, ByteLevelBpeTokenizer t) = resumed.LoadBackbone();
            return (m, t, !isFolder);
        }

        if (isFolder)
        {
            (DecoderLM model, ByteLevelBpeTokenizer tok) = HuggingFaceCheckpoint.LoadWithTokenizer(o.Backbone);

            if (tok.TokenToId(SpecialTokens.ItemSeparator) is null)
            {
                throw new ArgumentException($"{o.Backbone}: the tokenizer has no '{SpecialTokens.ItemSeparator}' token; CALRec needs it to separate items (add it as a special token and resize the embeddings).");
            }

            _context.Report(ModelKind, $"finetuning {o.Backbone}: {model.Config.ModelType}, {model.parameter_count():N0} parameters");
            return (model, tok, false);
        }

        DecoderConfig config = DecoderPresets.Find(o.Backbone)
            ?? (File.Exists(o.Backbone) ? DecoderConfig.Load(o.Backbone)
                : throw new ArgumentException($"Backbone '{o.Backbone}' is neither a preset ({string.Join(", ", DecoderPresets.Names)}), a config.json file, nor a checkpoint folder."));
        ByteLevelBpeTokenizer tokenizer = sharedTokenizer ?? TrainTokenizer(sources, template);
        var decoder = new DecoderLM(config with { VocabSize = tokenizer.VocabularySize, EosTokenId = tokenizer.TokenToId(SpecialTokens.EndOfText) }, _seed);
        _context.Report(ModelKind, $"backbone from scratch: {decoder.Config.ModelType}, {decoder.parameter_count():N0} parameters");
        return (decoder, tokenizer, true);
    }

    // The byte-level BPE tokenizer of a backbone trained from scratch, on the item texts of the stage-0 datasets.
    private ByteLevelBpeTokenizer TrainTokenizer(List<TrainingSource> sources, ItemTextTemplate? template)
    {
        Options o = _options;
        var texts = sources.SelectMany(s => s.Items).Select(i => ItemTextTable.Render(i, template)).Where(t => t.Length > 0).ToList();
        _context.Report(ModelKind, $"training a {o.VocabularySize}-id byte-level BPE tokenizer on {texts.Count:N0} item texts");
        return ByteLevelBpeTokenizer.Train(texts, new BpeTrainerOptions
        {
            VocabularySize = o.VocabularySize,
            SpecialTokens = [.. SpecialTokens.All],
        });
    }

    private void Pretrain(DecoderLM model, ByteLevelBpeTokenizer tokenizer, List<ItemTextTable> tables, List<List<HistoryExample>> examples,
        List<TrainingSource> sources, CheckpointState? resumed, CancellationToken cancellation)
    {
        Options o = _options;
        var documents = new PretrainingCorpus(tables, examples.SelectMany(x => x)).Documents.ToArray();

        TraceData(CalRecPhase.Pretrain, examples, sources);
        new SeededRandom(_seed ^ 0x9E3779B97F4A7C15UL).Shuffle<IReadOnlyList<int>>(documents);
        int eos = tokenizer.TokenToId(SpecialTokens.EndOfText) ?? tables[0].Pad;
        var data = new PackedTokenDataset(documents, eos, Math.Min(o.PretrainSequenceLength, model.Config.MaxPositions));
        var lm = new CausalLmTrainer(model, new CausalLmTrainerOptions
        {
            Steps = o.PretrainSteps,
            BatchSize = o.BatchSize,
            AccumulationSteps = o.AccumulationSteps,
            LearningRate = o.PretrainLearningRate,
            WarmupSteps = Math.Max(1, o.PretrainSteps / 10),
            EvalEvery = 0,
            Seed = _seed,
        });
        if (resumed?.Phase == CalRecPhase.Pretrain)
        {
            lm.RestoreCheckpoint(o.CheckpointDirectory!);
        }

        _context.Report(ModelKind, $"stage 0: LM pretraining, {data.TokenCount:N0} tokens, steps {lm.Step}..{o.PretrainSteps}");
        void Checkpoint(CausalLmTrainer t) => t.SaveCheckpoint(o.CheckpointDirectory!, tokenizer, new JsonObject { ["phase"] = CalRecPhase.Pretrain, ["run_seconds"] = RunTime.TotalSeconds }, folder => CheckpointState.WriteRun(folder, o, _data, _members));
        lm.Progress += (_, r) =>
            Progress?.Invoke(this, new CalRecProgress(CalRecPhase.Pretrain, 0, r.Step, o.PretrainSteps, r.Loss, r.Loss, float.NaN, float.NaN, r.TokensPerSecond, null, r.Remaining, _member));
        lm.Train(data, null, cancellation, o.CheckpointDirectory is null ? null
            : new CausalLmCheckpointing(Checkpoint) { Every = o.CheckpointMinutes > 0 ? TimeSpan.FromMinutes(o.CheckpointMinutes) : null });
        if (o.CheckpointDirectory is not null)
        {
            // Stage 0 done: a run killed before stage 1's first validation resumes from here, not from scratch.
            Checkpoint(lm);
        }
    }

    private int RunStage(string phase, CalRecStageOptions stage, List<List<HistoryExample>> components, DecoderLM model, ByteLevelBpeTokenizer tokenizer,
        IReadOnlyList<ManagedTensor> trainable, EarlyStopping selection, WeightsSnapshot best, ItemTextTable targetTable, CalRecSettings settings,
        IReadOnlyList<EvaluationCase> validation, CheckpointState? resumed, CancellationToken cancellation)
    {
        Options o = _options;
        components = components.Where(c => c.Count > 0).ToList();
        int total = components.Sum(c => c.Count);
        if (total == 0)
        {
            _context.Report(ModelKind, $"{phase} skipped: no training sequence with two or more items");
            return 0;
        }

        int stepsPerEpoch = Math.Max(1, (total + o.BatchSize - 1) / o.BatchSize);
        var plan = new TrainingPlan
        {
            Epochs = stage.Epochs,
            StepsPerEpoch = stepsPerEpoch,
            MaxSteps = stage.MaxSteps,
            TimeBudget = stage.MaxMinutes > 0 ? TimeSpan.FromMinutes(stage.MaxMinutes) : null,
            ValidateEvery = Math.Max(1, stepsPerEpoch / o.EvaluationsPerEpoch),
            Checkpoints = o.CheckpointDirectory is not null,
            CheckpointEvery = o.CheckpointMinutes > 0 ? TimeSpan.FromMinutes(o.CheckpointMinutes) : null,
        };
        int totalSteps = plan.TotalSteps;
        var optimizer = new AdamWOptimizer(AdamWOptimizer.DecayGroups(trainable, o.WeightDecay), stage.LearningRate, 0.9f, 0.999f);
        var schedule = new LearningRateSchedule(stage.LearningRate, Math.Min(100, Math.Max(1, totalSteps / 10)), totalSteps);
        var weights = new LossWeights(o.LmWeight, o.ItemItemWeight, o.UserItemWeight, o.TextLmWeight);
        IdentityTokens? identities = settings.IdentityTokenBase is int first ? new IdentityTokens(first, targetTable.Count) : null;
        double[] mix = MixtureWeights(components.Select(c => c.Count).ToArray());
        _context.Report(ModelKind, string.Create(CultureInfo.InvariantCulture,
            $"{phase}: {total:N0} training windows from {components.Count} domain(s) [{string.Join(", ", mix.Select(p => p.ToString("P0", CultureInfo.InvariantCulture)))}], {stage.Epochs} epoch(s) of {stepsPerEpoch} steps"));
        selection.Restore(selection.Best, resumed?.Stale ?? 0, selection.Validations);
        resumed?.RestoreOptimizer(model, optimizer);
        using ICalRecEngine? engine = Engine?.Invoke(model, new CalRecStepSettings(weights, o.Pooling, o.Temperature, o.WeightDecay, o.ClipNorm, 0.9f, 0.999f, _seed + (phase == CalRecPhase.Stage1 ? 1UL : 2UL)));
        if (resumed is not null)
        {
            engine?.LoadOptimizerStateFrom(model, optimizer);
        }

        ItemNegativeBank? negatives = o.Negatives == NegativeSampling.Catalogue && (o.ItemItemWeight != 0f || o.UserItemWeight != 0f)
            ? new ItemNegativeBank(components.SelectMany(c => c.Select(e => e.Table)), model.Config.HiddenSize, o.Pooling)
            : null;
        SamplingCorrection? correction = Correction(components, mix);
        // Weight averaging: validation and model selection see the average; the steps train the raw weights. With an
        // engine the average lives where the weights are, and comes back for a new best and a checkpoint.
        WeightAverage? average = o.WeightAverage > 0 ? new WeightAverage(model.named_parameters().Where(p => p.Parameter.requires_grad), o.WeightAverage) : null;
        if (average is not null)
        {
            resumed?.RestoreAverage(average);
            engine?.StartAverage(average);
        }

        void SwapAverage()
        {
            if (engine is not null)
            {
                engine.SwapAverage();
            }
            else
            {
                average!.Swap();
            }
        }

        List<List<HistoryExample>> batches = [];
        LossValues values = default;
        model.train();
        var run = new TrainingRun
        {
            OnStartEpoch = epoch => batches = EpochBatches(phase, epoch, components, mix, stepsPerEpoch),
            OnStep = (position, global) =>
            {
                optimizer.LearningRate = schedule.At(global);
                if (negatives is not null && (global % o.NegativeRefreshSteps == 0 || negatives.Version == 0))
                {
                    engine?.CopyWeightsTo(model);
                    negatives.Refresh(model, cancellation);
                }

                List<HistoryBatch> micro = MicroBatches(batches[position.Step], o.AccumulationSteps, negatives, identities, correction);
                values = engine is not null ? engine.Step(micro, optimizer.LearningRate) : ManagedStep(model, trainable, optimizer, micro, weights);
                if (engine is null)
                {
                    average?.Update();
                }

                return new StepResult(values.Total, values.Tokens);
            },
            // Validation runs where the weights are; they come back to our model for a new best (the loop then
            // captures them, or the average of them), a checkpoint and the stage's end.
            OnValidate = () =>
            {
                if (average is not null)
                {
                    SwapAverage();
                }

                double ndcg = Validate(model, tokenizer, targetTable, settings, validation, cancellation, engine?.Towers);
                if (average is not null)
                {
                    SwapAverage();
                }

                model.train();
                return ndcg;
            },
            OnImproved = () =>
            {
                engine?.CopyWeightsTo(model);
                if (average is not null)
                {
                    engine?.CopyAverageTo(average);
                    average.Swap();
                    best.Capture();
                    average.Swap();
                }
            },
            OnCheckpoint = (next, elapsed) =>
            {
                engine?.CopyWeightsTo(model);
                if (average is not null)
                {
                    engine?.CopyAverageTo(average);
                }

                SaveCheckpoint(model, tokenizer, optimizer, selection, best, phase, next, elapsed, engine, average);
            },
            OnReport = r =>
            {
                if (r.Validation is double ndcg)
                {
                    int stale = selection.Stale;
                    _context.Report(ModelKind, string.Create(CultureInfo.InvariantCulture,
                        $"{phase} epoch {r.Position.Epoch + 1} step {r.Position.Step + 1}: validation NDCG@10 {ndcg:F4} (best {selection.Best:F4}{(stale > 0 ? $", {stale} without improvement" : string.Empty)})"));
                }

                Progress?.Invoke(this, new CalRecProgress(phase, r.Position.Epoch + 1, r.GlobalStep, r.TotalSteps, values.Total, values.Lm, values.ItemItem, values.UserItem,
                    r.TokensPerSecond, r.Validation, r.Remaining, _member));
            },
        };
        TrainingPosition start = resumed?.Position ?? default;
        TrainingOutcome outcome = new TrainingLoop(plan, selection, average is null ? best : null).Run(run, start, resumed?.Elapsed ?? TimeSpan.Zero, cancellation);
        engine?.CopyWeightsTo(model);
        return outcome.Next.Epoch + (outcome.Next.Step > 0 ? 1 : 0) - start.Epoch;
    }

    // One step on our engine: the micro-batches' gradients add up, then clipping and the AdamW step.
    private LossValues ManagedStep(DecoderLM model, IReadOnlyList<ManagedTensor> trainable, AdamWOptimizer optimizer, List<HistoryBatch> micro, LossWeights weights)
    {
        optimizer.zero_grad();
        var parts = new List<LossValues>(micro.Count);
        foreach (HistoryBatch batch in micro)
        {
            using TensorScope scope = TensorScope.Begin();
            CalRecObjective.Loss(model, batch, weights.ShareOf(batch, micro), _options.Pooling, _options.Temperature, out LossValues part).backward();
            parts.Add(part);
        }

        using (TensorScope.Begin())
        {
            GradientClipping.clip_grad_norm_(trainable, _options.ClipNorm);
            optimizer.step();
        }

        return LossValues.Combine(parts, micro, weights);
    }

    // The logQ correction of a stage's in-batch negatives, when it is on and a contrastive term uses them.
    private SamplingCorrection? Correction(List<List<HistoryExample>> components, double[] weights) =>
        _options.LogQCorrection && (_options.ItemItemWeight != 0f || _options.UserItemWeight != 0f) ? new SamplingCorrection(components, weights) : null;

    /// <summary>A step's histories as <paramref name="parts"/> micro-batches of (nearly) equal size, in order.</summary>
    internal static List<HistoryBatch> MicroBatches(List<HistoryExample> examples, int parts, ItemNegativeBank? negatives, IdentityTokens? identities = null,
        SamplingCorrection? correction = null)
    {
        parts = Math.Clamp(parts, 1, examples.Count);
        var result = new List<HistoryBatch>(parts);
        for (int k = 0; k < parts; k++)
        {
            int from = examples.Count * k / parts, to = examples.Count * (k + 1) / parts;
            result.Add(HistoryBatch.Build(examples.GetRange(from, to - from), negatives, identities, correction));
        }

        return result;
    }

    /// <summary>
    /// Stage 1 as meta-learning: each step draws a task (a mixture dataset, uniformly or by size), adapts to it with a few
    /// SGD steps on its batches, and updates the initialization (Reptile or first-order MAML). The budget, counted in
    /// inner steps, equals plain stage 1's. Validates and checkpoints like the other stages (the task generator and
    /// first-order MAML's outer moments go into the checkpoint), so a resumed run continues mid-stage.
    /// </summary>
    private void RunMetaStage(CalRecStageOptions stage, List<List<HistoryExample>> components, DecoderLM model, ByteLevelBpeTokenizer tokenizer,
        IReadOnlyList<ManagedTensor> trainable, EarlyStopping selection, WeightsSnapshot best, ItemTextTable targetTable, CalRecSettings settings,
        IReadOnlyList<EvaluationCase> validation, CheckpointState? resumed, CancellationToken cancellation)
    {
        Options o = _options;
        MetaLearningOptions meta = o.Meta!;
        components = components.Where(c => c.Count > 0).ToList();
        int total = components.Sum(c => c.Count);
        int batchesPerTask = meta.InnerSteps + (meta.Algorithm == MetaAlgorithm.FirstOrderMaml ? 1 : 0);
        int metaSteps = Math.Max(1, stage.Epochs * total / (o.BatchSize * batchesPerTask));
        if (stage.MaxSteps > 0)
        {
            metaSteps = Math.Max(1, Math.Min(metaSteps, stage.MaxSteps / batchesPerTask));
        }

        int evalEvery = Math.Max(1, metaSteps / (stage.Epochs * o.EvaluationsPerEpoch));
        double[] taskWeights = meta.TaskSampling == TaskSampling.Uniform
            ? components.Select(_ => 1.0 / components.Count).ToArray()
            : components.Select(c => (double)c.Count / total).ToArray();
        // A task's batches come from one domain, so the domain's weight is a constant of their logits: any weights do.
        SamplingCorrection? correction = Correction(components, taskWeights);
        var learner = new MetaLearner(trainable, meta);
        var weights = new LossWeights(o.LmWeight, o.ItemItemWeight, o.UserItemWeight, o.TextLmWeight);
        var g = new SeededRandom(_seed ^ 0x4D455441UL);
        _context.Report(ModelKind, string.Create(CultureInfo.InvariantCulture,
            $"stage1 ({meta.Algorithm}): {components.Count} tasks [{string.Join(", ", taskWeights.Select(p => p.ToString("P0", CultureInfo.InvariantCulture)))}], {metaSteps} meta-steps of {meta.InnerSteps} inner steps"));
        selection.Restore(selection.Best, resumed?.Stale ?? 0, selection.Validations);
        if (resumed is not null)
        {
            resumed.RestoreMetaLearning(model, learner, g);
        }

        model.train();
        float? queryLoss = null;
        var run = new TrainingRun
        {
            OnStep = (position, step) =>
            {
                List<HistoryExample> task = components[Pick(g, taskWeights)];
                var batches = new List<HistoryBatch>(batchesPerTask);
                for (int b = 0; b < batchesPerTask; b++)
                {
                    var rows = new List<HistoryExample>(o.BatchSize);
                    for (int r = 0; r < o.BatchSize; r++)
                    {
                        rows.Add(task[g.NextInt(task.Count)]);
                    }

                    batches.Add(HistoryBatch.Build(rows, identities: settings.IdentityTokenBase is int first ? new IdentityTokens(first, targetTable.Count) : null, correction: correction));
                }

                Func<ManagedTensor> Loss(HistoryBatch batch) => () => CalRecObjective.Loss(model, batch, weights, o.Pooling, o.Temperature, out _);
                var support = batches.Take(meta.InnerSteps).Select(Loss).ToList();
                Func<ManagedTensor>? query = meta.Algorithm == MetaAlgorithm.FirstOrderMaml ? Loss(batches[^1]) : null;
                float outerScale = 1f - ((float)step / metaSteps);
                (float supportLoss, queryLoss) = learner.Step(support, query, outerScale);
                return new StepResult(queryLoss ?? supportLoss, 0);
            },
            OnValidate = () =>
            {
                double ndcg = Validate(model, tokenizer, targetTable, settings, validation, cancellation);
                model.train();
                return ndcg;
            },
            OnCheckpoint = (next, elapsed) =>
            {
                CheckpointState.Write(o.CheckpointDirectory!, o, _data, _members, model, tokenizer, learner.Outer, selection, best, CalRecPhase.Stage1, next, elapsed, RunTime, tasks: g);
                _context.Report(ModelKind, $"checkpoint: stage1 (meta), step {next.Step} in {o.CheckpointDirectory}");
            },
            OnReport = r =>
            {
                if (r.Validation is double ndcg)
                {
                    _context.Report(ModelKind, string.Create(CultureInfo.InvariantCulture, $"stage1 meta-step {r.GlobalStep}: validation NDCG@10 {ndcg:F4} (best {selection.Best:F4})"));
                }

                Progress?.Invoke(this, new CalRecProgress(CalRecPhase.Stage1, 1, r.GlobalStep, metaSteps, r.Result.Loss, float.NaN, float.NaN, float.NaN, 0, r.Validation, r.Remaining, _member));
            },
        };
        new TrainingLoop(new TrainingPlan
        {
            Epochs = 1,
            StepsPerEpoch = metaSteps,
            TimeBudget = stage.MaxMinutes > 0 ? TimeSpan.FromMinutes(stage.MaxMinutes) : null,
            ValidateEvery = evalEvery,
            Checkpoints = o.CheckpointDirectory is not null,
            CheckpointEvery = o.CheckpointMinutes > 0 ? TimeSpan.FromMinutes(o.CheckpointMinutes) : null,
        }, selection, best).Run(run, resumed?.Position ?? default, resumed?.Elapsed ?? TimeSpan.Zero, cancellation);
    }

    private double Validate(DecoderLM model, ByteLevelBpeTokenizer tokenizer, ItemTextTable table, CalRecSettings settings, IReadOnlyList<EvaluationCase> cases, CancellationToken cancellation,
        ICalRecTowers? towers = null)
    {
        towers ??= new ManagedTowers(model);
        var scorer = new CalRecScorer(model, tokenizer, table, settings, CalRecScorer.EncodeCatalogue(towers, table, settings.Pooling, cancellation),
            identityWeight: IdentityWeight(settings), towers: towers);
        return RecommendationEvaluator.Evaluate(scorer, cases, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
    }

    // The item-ID hybrid scores cosine + τ·(next-identity logit): the product of the two softmaxes it trains (τ the
    // contrastive terms' temperature), in validation and in the fitted model (unless the towers alone validate better).
    private float IdentityWeight(CalRecSettings settings) => settings.IdentityTokenBase is null ? 0f : _options.Temperature;

    private List<EvaluationCase> ValidationSample(LeaveOneOutSplit target, ulong seed)
    {
        int n = _options.ValidationUsers;
        if (n <= 0 || n >= target.Validation.Count)
        {
            return [.. target.Validation];
        }

        int[] order = Enumerable.Range(0, target.Validation.Count).ToArray();
        new SeededRandom(seed ^ 0xA5A5A5A5UL).Shuffle<int>(order);
        return order.Take(n).Order().Select(i => target.Validation[i]).ToList();
    }

    /// <summary>Stage batches of one epoch: examples drawn by domain weight, grouped by length to limit padding, in seeded order.</summary>
    private List<List<HistoryExample>> EpochBatches(string phase, int epoch, List<List<HistoryExample>> components, double[] mix, int steps)
    {
        int b = _options.BatchSize;
        var g = new SeededRandom(_seed ^ ((ulong)(phase == CalRecPhase.Stage1 ? 1 : 2) << 40) ^ ((ulong)epoch * 0x9E3779B97F4A7C15UL));
        var orders = components.Select(c => Enumerable.Range(0, c.Count).ToArray()).ToList();
        var cursors = new int[components.Count];
        foreach (int[] order in orders)
        {
            g.Shuffle<int>(order);
        }

        var drawn = new List<HistoryExample>(steps * b);
        for (int i = 0; i < steps * b; i++)
        {
            int c = components.Count == 1 ? 0 : Pick(g, mix);
            if (cursors[c] == orders[c].Length)
            {
                g.Shuffle<int>(orders[c]);
                cursors[c] = 0;
            }

            drawn.Add(components[c][orders[c][cursors[c]++]]);
        }

        var batches = new List<List<HistoryExample>>(steps);
        const int BatchesPerBucket = 32;
        for (int start = 0; start < drawn.Count; start += b * BatchesPerBucket)
        {
            var bucket = drawn.GetRange(start, Math.Min(b * BatchesPerBucket, drawn.Count - start));
            bucket.Sort((x, y) => x.Table.SerializedLength(x.Items).CompareTo(y.Table.SerializedLength(y.Items)));
            for (int k = 0; k < bucket.Count; k += b)
            {
                batches.Add(bucket.GetRange(k, Math.Min(b, bucket.Count - k)));
            }
        }

        var shuffled = batches.ToArray();
        g.Shuffle<List<HistoryExample>>(shuffled);
        return [.. shuffled];
    }

    private double[] MixtureWeights(int[] sizes)
    {
        double exponent = _options.MixtureSampling == MixtureSampling.Temperature ? 1.0 / _options.MixtureTemperature : 1.0;
        double[] w = sizes.Select(n => Math.Pow(n, exponent)).ToArray();
        double sum = w.Sum();
        return w.Select(x => x / sum).ToArray();
    }

    private static int Pick(SeededRandom g, double[] p)
    {
        double r = g.NextDouble(), acc = 0;
        for (int i = 0; i < p.Length - 1; i++)
        {
            acc += p[i];
            if (r < acc)
            {
                return i;
            }
        }

        return p.Length - 1;
    }

    /// <summary>Per user id: the ids of the target's validation and test items.</summary>
    private static Dictionary<string, HashSet<string>> HeldOut(LeaveOneOutSplit target)
    {
        var held = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (EvaluationCase c in target.Validation.Concat(target.Test))
        {
            string user = target.Data.Users[c.User];
            if (!held.TryGetValue(user, out HashSet<string>? set))
            {
                held[user] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(target.Data.Items[c.Target].Id);
        }

        return held;
    }

    /// <summary>
    /// Sets the last rows of the embedding table (and of an untied output projection) from <paramref name="vectors"/>
    /// [rows, <paramref name="dimension"/>]: their first principal components (as many as the backbone's width allows),
    /// scaled so that the rows keep the root mean square they started with.
    /// </summary>
    internal static void InitializeIdentityRows(DecoderLM model, int first, float[] vectors, int dimension)
    {
        int d = model.Config.HiddenSize, count = vectors.Length / dimension, k = Math.Min(d, dimension);
        float[] projected = Pca.Fit(vectors, dimension, k).Transform(vectors);
        double projectedRms = Math.Sqrt(projected.Sum(x => (double)x * x) / (count * d));
        ManagedTensor[] tables = model.LmHead is null ? [model.TokenEmbedding] : [model.TokenEmbedding, model.OutputWeight];
        foreach (ManagedTensor table in tables)
        {
            Span<float> rows = table.Data.Slice(first * d, count * d);
            double rms = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares(rows) / rows.Length);
            float scale = (float)(rms / Math.Max(projectedRms, 1e-12));
            rows.Clear();
            for (int i = 0; i < count; i++)
            {
                for (int c = 0; c < k; c++)
                {
                    rows[(i * d) + c] = projected[(i * k) + c] * scale;
                }
            }
        }
    }

    /// <summary>A mixture dataset's training sequences, each cut before the first of the same user's held-out target items.</summary>
    private static IReadOnlyList<int[]> LeakFreeTrain(InteractionDataset data, Dictionary<string, HashSet<string>> heldOut)
    {
        var split = new LeaveOneOutSplit(data);
        var result = new List<int[]>(split.Train.Count);
        for (int u = 0; u < split.Train.Count; u++)
        {
            int[] s = split.Train[u];
            if (heldOut.TryGetValue(data.Users[u], out HashSet<string>? held))
            {
                int cut = Array.FindIndex(s, i => held.Contains(data.Items[i].Id));
                s = cut < 0 ? s : s[..cut];
            }

            result.Add(s);
        }

        return result;
    }

    private void TraceData(string phase, List<List<HistoryExample>> components,
        List<TrainingSource> sources)
    {
        if (TrainingDataObserver is not { } observe)
        {
            return;
        }

        foreach (HistoryExample e in components.SelectMany(c => c))
        {
            TrainingSource source = sources[e.TableKey];
            observe(phase, source.Name, source.Users[e.User], e.Items.Select(i => source.Items[i].Id).ToArray());
        }
    }

    private void SaveCheckpoint(DecoderLM model, ByteLevelBpeTokenizer tokenizer, AdamWOptimizer optimizer, EarlyStopping selection, WeightsSnapshot best, string phase,
        TrainingPosition next, TimeSpan elapsed, ICalRecEngine? engine, WeightAverage? average)
    {
        engine?.CopyOptimizerStateTo(model, optimizer);
        CheckpointState.Write(_options.CheckpointDirectory!, _options, _data, _members, model, tokenizer, optimizer, selection, best, phase, next, elapsed, RunTime, average: average);
        _context.Report(ModelKind, $"checkpoint: {phase}, epoch {next.Epoch + 1}, step {next.Step} in {_options.CheckpointDirectory}");
    }

    /// <summary>A trained member: its backbone (adapters merged, best validated weights), tokenizer, settings, epochs and best validation NDCG@10.</summary>
    internal sealed record Member(DecoderLM Model, ByteLevelBpeTokenizer Tokenizer, CalRecSettings Settings, int Epochs, double? ValidationNdcg10);

    private static Dictionary<string, string> SettingsOf(Options o, IReadOnlyList<InteractionDataset> mixture) =>
        new(DeclaredOptions.Describe(o)) { ["mixture"] = string.Join(",", mixture.Select(m => m.Name)) };
}
