using System.Text.Json;
using System.Text.Json.Serialization;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.MetaLearning;

namespace CalRec.Recommenders.CalRec;

/// <summary>How stage 1 draws examples from the domains of its mixture.</summary>
public enum MixtureSampling
{
    /// <summary>Each domain in proportion to its number of training examples.</summary>
    Proportional,

    /// <summary>Domain d with probability proportional to n_d^(1/T) (T = <see cref="CalRecTrainer.Options.MixtureTemperature"/>): T → ∞ is uniform.</summary>
    Temperature,
}

/// <summary>How the item-ID hybrid's identity rows start.</summary>
public enum IdentityInitialization
{
    /// <summary>The mean of the item's text-token rows (in the backbone's own embedding space).</summary>
    TextMean,

    /// <summary>
    /// The pretrained MiniLM sentence embedding of the item's text, projected to the backbone's width by PCA and scaled to
    /// the text-mean rows' root mean square (pretrained text knowledge in the item tower's input).
    /// </summary>
    [OptionValue("minilm")]
    MiniLm,
}

/// <summary>Settings of one finetuning stage.</summary>
public sealed class CalRecStageOptions
{
    /// <summary>Whether the stage runs.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Passes over the stage's training examples.</summary>
    [TrainerOption("epochs", "Passes over the stage's training windows; 0 skips the stage.")]
    public int Epochs { get; set; } = 3;

    /// <summary>Peak learning rate (linear warmup, cosine decay).</summary>
    [TrainerOption("lr", "Peak learning rate (warmup, cosine decay).")]
    public float LearningRate { get; set; } = 1e-3f;

    /// <summary>Wall-clock budget in minutes (0: none); the stage stops after the step that exceeds it.</summary>
    [TrainerOption("minutes", "Time budget in minutes (0: none).")]
    public double MaxMinutes { get; set; }

    /// <summary>
    /// Step budget (0: none): the stage ends after this many gradient steps, and its learning-rate schedule decays over
    /// them. A meta-learning stage counts every inner and query step. Unlike <see cref="MaxMinutes"/>, the result does not
    /// depend on the machine's speed or load.
    /// </summary>
    [TrainerOption("steps", "Step budget in gradient steps (0: none); meta-learning counts inner and query steps.")]
    public int MaxSteps { get; set; }
}

public sealed partial class CalRecTrainer
{
    /// <summary>
    /// Every setting of <see cref="CalRecTrainer"/>, with defaults sized for a CPU. Serializable as JSON (the CLI's
    /// <c>--config</c> file).
    /// </summary>
    public sealed class Options
    {
        /// <summary>The file inside a checkpoint folder that holds the run's settings.</summary>
        internal const string CheckpointOptionsFile = "options.json";

        private static readonly JsonSerializerOptions Json = new()
        {
            PropertyNameCaseInsensitive = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            WriteIndented = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            Converters = { new JsonStringEnumConverter() },
        };

        /// <summary>
        /// Item text template such as <c>title: {title}; brand: {brand}; category: {category}</c>; null: the title followed
        /// by every attribute.
        /// </summary>
        [TrainerOption("template", "Item text template, e.g. \"title: {title}; brand: {brand}\" (none: title and every attribute).")]
        public string? Template { get; set; }

        /// <summary>
        /// The backbone: a preset name (tiny, mini, small, base) or a config.json path to train from scratch (after stage
        /// 0 pretraining), or a Hugging Face checkpoint folder (config.json + safetensors + tokenizer.json) to finetune.
        /// </summary>
        [TrainerOption("backbone", "Preset (tiny, mini, small, base), a config.json, or a Hugging Face checkpoint folder to finetune.")]
        public string Backbone { get; set; } = "mini";

        /// <summary>LoRA rank for finetuning (0: full finetuning). Adapters are merged into the saved backbone.</summary>
        [TrainerOption("lora-rank", "Finetune with LoRA adapters of this rank (0: full finetuning).")]
        public int LoraRank { get; set; }

        /// <summary>LoRA scaling numerator (scale = alpha / rank).</summary>
        [TrainerOption("lora-alpha", "LoRA scaling numerator (scale = alpha / rank).")]
        public float LoraAlpha { get; set; } = 16f;

        /// <summary>Dropout on the LoRA adapters' input while training.</summary>
        [TrainerOption("lora-dropout", "Dropout on the LoRA adapters' input while training.")]
        public float LoraDropout { get; set; } = 0.05f;

        /// <summary>Pooling of both towers.</summary>
        [TrainerOption("pooling", "Pooling of both towers.")]
        public Pooling Pooling { get; set; } = Pooling.LastToken;

        /// <summary>InfoNCE temperature of the contrastive terms.</summary>
        [TrainerOption("temperature", "InfoNCE temperature.")]
        public float Temperature { get; set; } = 0.05f;

        /// <summary>w_lm: weight of the next-item generation (LM) loss.</summary>
        [TrainerOption("w-lm", "Weight of L_NIG, the next-item generation (LM) loss.")]
        public float LmWeight { get; set; } = 1f;

        /// <summary>
        /// With the item-ID hybrid (<see cref="ItemIdentityTokens"/>), the weight of L_NIG's text positions beside its
        /// identity positions: 1 predicts every target item's identity token and its text; 0 only the identity token,
        /// which skips the text vocabulary's projection at every text position (the largest single cost of a step).
        /// </summary>
        [TrainerOption("w-text-lm", "With --item-ids: weight of L_NIG's text tokens beside its identity tokens (0: identity tokens only).")]
        public float TextLmWeight { get; set; } = 1f;

        /// <summary>w_tt: weight of the item-in-context vs item InfoNCE.</summary>
        [TrainerOption("w-tt", "Weight of L_TT, the item-in-context vs item InfoNCE.")]
        public float ItemItemWeight { get; set; } = 1f;

        /// <summary>w_ut: weight of the user (history) vs next item InfoNCE.</summary>
        [TrainerOption("w-ut", "Weight of L_UT, the history vs next item InfoNCE.")]
        public float UserItemWeight { get; set; } = 1f;

        /// <summary>
        /// Negatives of the contrastive terms: the batch's other items (the paper), or every item of the stage's
        /// catalogues from a cached item index (plain stages; meta-learning stays in-batch).
        /// </summary>
        [TrainerOption("negatives", "Contrastive negatives: in-batch, or catalogue (every item, from an index re-encoded every --negative-refresh steps).")]
        public NegativeSampling Negatives { get; set; } = NegativeSampling.InBatch;

        /// <summary>Steps between re-encodings of the catalogue-wide negative index (<see cref="NegativeSampling.Catalogue"/>).</summary>
        [TrainerOption("negative-refresh", "Steps between re-encodings of the catalogue-wide negative index.")]
        public int NegativeRefreshSteps { get; set; } = 200;

        /// <summary>
        /// The logQ correction of in-batch negatives (Yi et al., 2019; not in CALRec's paper): in-batch negatives are the
        /// batch's targets, drawn as often as items are targets, so each key's logits get -ln q, q being the item's
        /// probability under the stage's sampler. Without it the contrastive terms learn a score that penalizes
        /// popularity; with it they estimate the full softmax's. In-batch negatives only (the catalogue-wide index
        /// holds every item once: nothing to correct).
        /// </summary>
        [TrainerOption("logq-correction", "Correct in-batch negatives for sampling by popularity: each key's logits minus ln q (its probability of being a batch's target).")]
        public bool LogQCorrection { get; set; }

        /// <summary>
        /// The item-ID hybrid (not in the paper): each target item gets an identity token of its own, placed before its
        /// text wherever the item appears (histories, the item tower, the LM targets), with a learned embedding that
        /// starts as the mean of the item's text tokens. Next-item generation then predicts the identity token first,
        /// with a softmax over the target's items alone (a full-catalogue ranking loss, as SASRec's), then the text. The
        /// fitted model (and validation) scores cosine + τ·(next-identity logit), τ = <see cref="Temperature"/>: the product
        /// of the two softmaxes trained (0 instead when the towers alone do better on the validation users) (<see cref="CalRecScorer.IdentityWeight"/>; <see cref="CalRecModel.TuneIdentityWeight"/>
        /// chooses another on validation users). With LoRA the embedding table (and an untied output projection) train in
        /// full beside the adapters, as PEFT's <c>modules_to_save</c> does for added tokens.
        /// </summary>
        [TrainerOption("item-ids", "Item-ID hybrid: a learned identity token before each target item's text (full-catalogue softmax on it in L_NIG).")]
        public bool ItemIdentityTokens { get; set; } = true;

        /// <summary>How the identity rows of <see cref="ItemIdentityTokens"/> start (the mean of the item's text tokens, or MiniLM).</summary>
        [TrainerOption("identity-init", "How identity tokens start: the mean of the item's text-token rows, or MiniLM's embedding of the item text (PCA to the backbone's width).")]
        public IdentityInitialization IdentityInit { get; set; } = IdentityInitialization.TextMean;

        /// <summary>Vocabulary size of the tokenizer trained when the backbone is trained from scratch.</summary>
        [TrainerOption("vocab-size", "Vocabulary of the tokenizer trained for a from-scratch backbone.")]
        public int VocabularySize { get; set; } = 8192;

        /// <summary>Stage 0 (from scratch only): LM pretraining steps on item texts and serialized training histories (0: skip).</summary>
        [TrainerOption("pretrain-steps", "Stage-0 LM pretraining steps for a backbone trained from scratch (0: skip).")]
        public int PretrainSteps { get; set; } = 800;

        /// <summary>
        /// How many times the target's item texts and training windows enter the tokenizer and the stage-0 corpus (a
        /// target that is also in the mixture counts as one of them): 1 reads every dataset once, 2 weights the target
        /// up (from scratch only).
        /// </summary>
        [TrainerOption("pretrain-target-weight", "Times the target's texts and windows enter the tokenizer and stage 0 (a target also in the mixture counts once).")]
        public int PretrainTargetWeight { get; set; } = 1;

        /// <summary>
        /// Folder to save the stage-0 backbone in (Hugging Face layout, with its tokenizer; the first member's when there
        /// are several), so that other runs can start from it with <see cref="Backbone"/> = that folder (null: not saved).
        /// </summary>
        [TrainerOption("save-pretrained", "Save the stage-0 backbone to this folder (reuse it with --backbone DIR).")]
        public string? SavePretrainedTo { get; set; }

        /// <summary>Stage 0 tokens per packed sequence.</summary>
        [TrainerOption("pretrain-seq-len", "Stage-0 tokens per packed sequence.")]
        public int PretrainSequenceLength { get; set; } = 128;

        /// <summary>Stage 0 peak learning rate.</summary>
        [TrainerOption("pretrain-lr", "Stage-0 peak learning rate.")]
        public float PretrainLearningRate { get; set; } = 3e-3f;

        /// <summary>
        /// Stage 1: the mixture of domains (skipped when there is no mixture); off by default (0 epochs), set Epochs = 1
        /// for the paper's two-stage recipe (one whole epoch, so its schedule decays to the end whatever the machine's
        /// speed). Once stage 2 trains on the target, stage 1 measured within the noise on both targets of
        /// docs/results.md, and its time buys a second member (<see cref="Members"/>); the mixture still feeds the
        /// tokenizer and stage 0.
        /// </summary>
        [TrainerOptionGroup("stage1")]
        public CalRecStageOptions Stage1 { get; set; } = new() { Epochs = 0, LearningRate = 1e-3f };

        /// <summary>
        /// Few-shot stage 2: train on only the first this many target training windows, taken user by user in dataset
        /// order (0: all of them).
        /// </summary>
        [TrainerOption("few-shot", "Stage 2 on only the first N target training windows (0: all).")]
        public int FewShotExamples { get; set; }

        /// <summary>
        /// Stage 2: the target domain; three whole epochs at 1e-3 by default, each validated on every validation user,
        /// the best epoch's weights kept.
        /// </summary>
        [TrainerOptionGroup("stage2")]
        public CalRecStageOptions Stage2 { get; set; } = new() { Epochs = 3, LearningRate = 1e-3f };

        /// <summary>
        /// Meta-learning instead of plain mixture training in stage 1 (each mixture dataset a task; Reptile or first-order
        /// MAML); null: plain training on the mixture. The stage's budget is its epochs (counted in inner steps) and minutes.
        /// </summary>
        [TrainerOptionGroup("meta")]
        public MetaLearningOptions? Meta { get; set; }

        /// <summary>
        /// Members of the fitted model: the whole training (stage 0 when from scratch, stage 1, stage 2) runs this many
        /// times, member k with seed <see cref="Seed"/> + k (the tokenizer is trained once and shared), and the model
        /// scores with the mean of the members' scores (an ensemble). Two by default: on both targets of docs/results.md
        /// two members beat one beyond the noise, in the time one run with stage 1 took. 1: a single model; the
        /// training time grows with the count.
        /// </summary>
        [TrainerOption("members", "Train the whole model this many times (member k with seed + k) and score with the mean of the members' scores.")]
        public int Members { get; set; } = 2;

        /// <summary>How stage 1 samples domains.</summary>
        [TrainerOption("mixture-sampling", "How stage 1 draws domains: proportional to size, or temperature (n^(1/T)).")]
        public MixtureSampling MixtureSampling { get; set; } = MixtureSampling.Proportional;

        /// <summary>Temperature T of <see cref="MixtureSampling.Temperature"/>.</summary>
        [TrainerOption("mixture-temperature", "T of temperature mixture sampling (large T: uniform).")]
        public float MixtureTemperature { get; set; } = 2f;

        /// <summary>Histories per optimizer step.</summary>
        [TrainerOption("batch-size", "Histories per optimizer step (also the in-batch negatives).")]
        public int BatchSize { get; set; } = 16;

        /// <summary>
        /// Micro-batches per optimizer step: each batch of <see cref="BatchSize"/> histories is split into this many
        /// passes whose gradients add up before the update (less memory per pass, e.g. on a GPU). The LM term's gradient
        /// equals one pass over the batch; the contrastive terms rank each micro-batch against its own in-batch negatives.
        /// </summary>
        [TrainerOption("accumulation-steps", "Split each batch into this many micro-batches whose gradients add up before the step (less memory per pass).")]
        public int AccumulationSteps { get; set; } = 1;

        /// <summary>
        /// Dropout on the backbone's embeddings and residual branches while finetuning (stages 1 and 2; stage-0
        /// pretraining keeps the backbone's own setting); null keeps the backbone's own setting throughout (0 for the
        /// presets, a Hugging Face checkpoint's configured dropout). A regularizer against memorizing the training
        /// transitions; off by default (docs/results.md measures 0.1 and 0.2).
        /// </summary>
        [TrainerOption("dropout", "Dropout on the backbone's embeddings and residual branches in stages 1 and 2 (none: the backbone's own).")]
        public float? Dropout { get; set; }

        /// <summary>Most recent items per serialized history (training windows hold this many plus the target).</summary>
        [TrainerOption("max-history", "Most recent items per serialized history.")]
        public int MaxHistory { get; set; } = 8;

        /// <summary>Tokens kept of each item's text.</summary>
        [TrainerOption("max-item-tokens", "Tokens kept of each item text.")]
        public int MaxItemTokens { get; set; } = 12;

        /// <summary>
        /// Weight averaging in the finetuning stages (0: off): an exponential moving average of the trainable weights with
        /// this decay per step (<see cref="Models.Training.WeightAverage"/>), which validation, model selection and the
        /// fitted model use while training steps on the raw weights. Plain stages (not meta-learning), on either engine.
        /// </summary>
        [TrainerOption("weight-average", "Decay of an exponential moving average of the weights that validation and the fitted model use (0: off).")]
        public float WeightAverage { get; set; }

        /// <summary>Decoupled weight decay on matrices.</summary>
        [TrainerOption("weight-decay", "Decoupled weight decay on matrices.")]
        public float WeightDecay { get; set; } = 0.01f;

        /// <summary>Global gradient-norm limit.</summary>
        [TrainerOption("clip-norm", "Global gradient-norm limit.")]
        public float ClipNorm { get; set; } = 1f;

        /// <summary>
        /// Validation users for model selection: a seeded sample of this many of the target's validation cases, or 0 (the
        /// default) for all of them, as SASRec validates. A sample of 1,000 users measures NDCG@10 only to about ±0.006,
        /// wider than the differences between a stage's epochs it has to choose among (docs/results.md).
        /// </summary>
        [TrainerOption("validation-users", "Validation users for model selection (0: all, the default; a seeded sample otherwise).")]
        public int ValidationUsers { get; set; }

        /// <summary>Validations per epoch.</summary>
        [TrainerOption("evaluations-per-epoch", "Validations per epoch.")]
        public int EvaluationsPerEpoch { get; set; } = 1;

        /// <summary>Stop a stage after this many validations without a better NDCG@10 (0: never).</summary>
        [TrainerOption("patience", "Stop a stage after this many validations without a better NDCG@10 (0: never).")]
        public int Patience { get; set; } = 2;

        /// <summary>
        /// Folder for a resumable checkpoint, written at each validation, at the end of stage 0, every
        /// <see cref="CheckpointMinutes"/> and when training is cancelled (null: none).
        /// </summary>
        public string? CheckpointDirectory { get; set; }

        /// <summary>
        /// Also write the checkpoint after the step that ends this many minutes since the last one, in stage 0 and in the
        /// stages (0: only at validations, at the end of stage 0 and on cancellation), so that a killed run loses at
        /// most this much work. Meta-learning stages checkpoint at their validations only.
        /// </summary>
        [TrainerOption("checkpoint-minutes", "Also checkpoint every this many minutes of training (0: only at validations, stage ends and Ctrl+C).")]
        public double CheckpointMinutes { get; set; } = 5;

        /// <summary>Continue from <see cref="CheckpointDirectory"/> instead of starting over.</summary>
        public bool Resume { get; set; }

        /// <summary>Seed of weights, batch order and dropout.</summary>
        [TrainerOption("seed", "Seed of weights, batch order and dropout.")]
        public ulong Seed { get; set; } = 1;

        /// <summary>The settings as JSON (property names in camel case, enums by name): the CLI's <c>--config</c> format.</summary>
        public string ToJson() => JsonSerializer.Serialize(this, Json);

        /// <summary>
        /// Settings from JSON written by <see cref="ToJson"/> or by hand (comments and trailing commas allowed); an invalid
        /// file is a <see cref="FormatException"/> naming <paramref name="source"/>, the line and the field.
        /// </summary>
        public static Options FromJson(string json, string source)
        {
            try
            {
                return JsonSerializer.Deserialize<Options>(json, Json) ?? throw new FormatException($"{source}: the settings are empty.");
            }
            catch (JsonException ex)
            {
                throw new FormatException($"{source}: invalid CALRec settings at line {(ex.LineNumber ?? 0) + 1}, field '{ex.Path}': {ex.Message}", ex);
            }
        }

        /// <summary>
        /// The settings an interrupted run saved in its checkpoint folder, set to resume from it: a library user continues
        /// a run with <c>ctx.Trainers.CalRec(Options.FromCheckpoint(dir)).Fit(...)</c> and the same data.
        /// </summary>
        public static Options FromCheckpoint(string checkpointDirectory)
        {
            string path = Path.Combine(checkpointDirectory, CheckpointOptionsFile);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{checkpointDirectory} holds no resumable CALRec run (no {CheckpointOptionsFile}).", path);
            }

            Options o = FromJson(File.ReadAllText(path), path);
            o.CheckpointDirectory = Path.GetFullPath(checkpointDirectory);
            o.Resume = true;
            return o;
        }

        internal void Validate()
        {
            Require(BatchSize >= 2, "BatchSize must be at least 2 (in-batch negatives)");
            Require(AccumulationSteps >= 1 && AccumulationSteps <= BatchSize / 2, "AccumulationSteps must be between 1 and BatchSize / 2 (each micro-batch needs two histories for in-batch negatives)");
            Require(NegativeRefreshSteps >= 1, "NegativeRefreshSteps must be at least 1");
            Require(CheckpointMinutes >= 0 && double.IsFinite(CheckpointMinutes), "CheckpointMinutes must be 0 or more");
            Require(MaxHistory >= 1, "MaxHistory must be at least 1");
            Require(MaxItemTokens >= 1, "MaxItemTokens must be at least 1");
            Require(Temperature > 0, "Temperature must be positive");
            Require(LmWeight >= 0 && ItemItemWeight >= 0 && UserItemWeight >= 0 && TextLmWeight >= 0, "loss weights must not be negative");
            Require(TextLmWeight > 0 || LmWeight == 0 || ItemItemWeight + UserItemWeight > 0, "TextLmWeight 0 needs a contrastive term (ItemItemWeight or UserItemWeight): a batch without target items has no identity token to predict");
            Require(ItemIdentityTokens || TextLmWeight == 1f, "TextLmWeight weighs the text part of L_NIG beside the identity tokens: set ItemIdentityTokens too");
            Require(LmWeight + ItemItemWeight + UserItemWeight > 0, "at least one loss weight must be positive");
            Require(MixtureTemperature > 0, "MixtureTemperature must be positive");
            Require(Stage1.Epochs >= 0 && Stage2.Epochs >= 0, "stage epochs must not be negative");
            Require(LoraRank >= 0, "LoraRank must not be negative");
            Require(LoraDropout >= 0 && LoraDropout < 1, "LoraDropout must be in [0, 1)");
            Require(Dropout is null or (>= 0 and < 1), "Dropout must be in [0, 1)");
            Require(WeightAverage is >= 0 and < 1, "WeightAverage must be in [0, 1)");
            Require(!LogQCorrection || Negatives == NegativeSampling.InBatch, "LogQCorrection corrects in-batch negatives: use it with Negatives = InBatch");
            Require(IdentityInit == IdentityInitialization.TextMean || ItemIdentityTokens, "IdentityInit applies to the item-ID hybrid: set ItemIdentityTokens too");
            Require(PretrainTargetWeight >= 1, "PretrainTargetWeight must be at least 1");
            Require(Members >= 1, "Members must be at least 1");
            Require(EvaluationsPerEpoch >= 1, "EvaluationsPerEpoch must be at least 1");
            Require(ValidationUsers >= 0, "ValidationUsers must be 0 (all) or a number of users");
            Require(!Resume || CheckpointDirectory is not null, "Resume needs a CheckpointDirectory");
        }

        private static void Require(bool condition, string message)
        {
            if (!condition)
            {
                throw new ArgumentException($"CALRec options: {message}.");
            }
        }
    }
}
