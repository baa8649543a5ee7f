using System.CommandLine;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Grounding;

namespace CalRec.Cli.Options;

/// <summary>
/// How a CALRec model grounds its output for <c>evaluate</c> and <c>recommend</c>: the model's saved grounding settings,
/// with the path and any flag given overriding them.
/// </summary>
internal sealed class GroundingArguments
{
    public Option<string?> Path { get; } = new("--grounding") { Description = "CALRec grounding: dense, bm25, embedding, constrained or fusion (default: the model's saved setting)." };

    public Option<int?> Candidates { get; } = new("--candidates") { Description = "Generated item texts per user." };

    public Option<bool> Sampling { get; } = new("--sampling") { Description = "Seeded temperature sampling instead of beam search." };

    public Option<float?> Gamma { get; } = new("--gamma") { Description = "Popularity re-weighting exponent of embedding grounding (0: off)." };

    public Option<string?> Distance { get; } = new("--distance") { Description = "Embedding-grounding distance: l2 or cosine." };

    public Option<int?> ListLength { get; } = new("--list-length") { Description = "Items per grounding list." };

    public Option<string?> EmbeddingPooling { get; } = new("--embedding-pooling") { Description = "Pooling of embedding grounding: mean or last (default: the model's)." };

    public Option<string?> EmbeddingBackbone { get; } = new("--embedding-backbone") { Description = "The space of embedding grounding: 'minilm' (the pretrained MiniLM sentence encoder), or a Hugging Face backbone folder with the model's tokenizer (e.g. the stage-0 backbone); default: the model's finetuned backbone." };

    public Option<string?> Collaborative { get; } = new("--collaborative") { Description = "A model zip (e.g. SASRec on the same data) whose scores re-weight embedding grounding instead of popularity." };

    public void AddTo(Command command)
    {
        foreach (Option o in (Option[])[Path, Candidates, Sampling, Gamma, Distance, ListLength, EmbeddingPooling, EmbeddingBackbone, Collaborative])
        {
            command.Options.Add(o);
        }
    }

    /// <summary>True when any grounding flag was given.</summary>
    public bool Given(ParseResult p) => p.GetValue(Path) is not null || p.GetValue(Candidates) is not null || p.GetValue(Sampling) || p.GetValue(Gamma) is not null
        || p.GetValue(Distance) is not null || p.GetValue(ListLength) is not null || p.GetValue(Collaborative) is not null
        || p.GetValue(EmbeddingPooling) is not null || p.GetValue(EmbeddingBackbone) is not null;

    /// <summary>The <c>--embedding-backbone</c> space (the MiniLM encoder or a loaded language model), or null.</summary>
    public GroundingEmbedder? LoadEmbedder(ParseResult p) => p.GetValue(EmbeddingBackbone) switch
    {
        null => null,
        string minilm when minilm.Equals(LanguageModelArguments.MiniLm, StringComparison.OrdinalIgnoreCase) => GroundingEmbedder.FromTextEncoder(new Models.Embeddings.MiniLmTextEncoder()),
        string folder => GroundingEmbedder.FromBackbone(Models.Checkpoints.HuggingFaceCheckpoint.Load(folder).Model),
    };

    /// <summary>The <c>--collaborative</c> model, loaded, or null.</summary>
    public RecommenderModel? LoadCollaborative(ParseResult p) =>
        p.GetValue(Collaborative) is string path ? ModelFiles.Load(path) : null;

    /// <summary>The model's grounding settings with the flags applied.</summary>
    public GroundingOptions Read(ParseResult p, CalRecModel model)
    {
        GroundingOptions o = model.Grounding.Clone();
        if (p.GetValue(Path) is string path)
        {
            o.Path = ParsePath(path);
        }

        o.Candidates = p.GetValue(Candidates) ?? o.Candidates;
        o.Sampling |= p.GetValue(Sampling);
        o.Gamma = p.GetValue(Gamma) ?? o.Gamma;
        o.ListLength = p.GetValue(ListLength) ?? o.ListLength;
        if (p.GetValue(EmbeddingPooling) is string pooling)
        {
            o.EmbeddingPooling = pooling.ToLowerInvariant() switch
            {
                "mean" => Models.Embeddings.Pooling.Mean,
                "last" => Models.Embeddings.Pooling.LastToken,
                _ => throw new ArgumentException($"--embedding-pooling: '{pooling}' is not mean or last."),
            };
        }

        if (p.GetValue(Distance) is string d)
        {
            o.Distance = d.ToLowerInvariant() switch
            {
                "l2" => GroundingDistance.L2,
                "cosine" => GroundingDistance.Cosine,
                _ => throw new ArgumentException($"--distance: '{d}' is not l2 or cosine."),
            };
        }

        return o;
    }

    public static GroundingPath ParsePath(string text) => text.ToLowerInvariant() switch
    {
        "dense" => GroundingPath.Dense,
        "bm25" => GroundingPath.Bm25,
        "embedding" => GroundingPath.Embedding,
        "constrained" => GroundingPath.Constrained,
        "fusion" => GroundingPath.Fusion,
        _ => throw new ArgumentException($"--grounding: '{text}' is not dense, bm25, embedding, constrained or fusion."),
    };

    /// <summary>The model as a CALRec model, or a clear error for other kinds.</summary>
    public static CalRecModel RequireCalRec(RecommenderModel model, string flag) => model as CalRecModel
        ?? throw new ArgumentException($"{flag} needs a CALRec model; this zip holds a '{model.Kind}' model.");
}
