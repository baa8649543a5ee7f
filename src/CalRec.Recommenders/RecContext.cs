using CalRec.Recommenders.Catalogs;

namespace CalRec.Recommenders;

/// <summary>A message from a component doing long work (training epochs, embedding, evaluation).</summary>
/// <param name="Source">The component (<c>sasrec</c>, <c>llmseqsim</c>, ...).</param>
/// <param name="Message">What happened.</param>
internal sealed record TrainingLogEventArgs(string Source, string Message);

/// <summary>
/// The entry point of the API, like ML.NET's <c>MLContext</c>: a seed that components use unless told otherwise, the
/// catalogs of operations, and a <see cref="Log"/> event that long-running components report through.
/// </summary>
/// <example>
/// <code>
/// var ctx = new RecContext(seed: 42);
/// var data = ctx.Data.LoadFromPath("shared/data/amazon-beauty");
/// var model = ctx.Trainers.SasRec(hidden: 64).Fit(data);
/// var metrics = ctx.Ranking.Evaluate(model, data);
/// ctx.Model.Save(model, "beauty-sasrec.zip");
/// </code>
/// </example>
internal sealed class RecContext
{
    /// <summary>Creates a context; <paramref name="seed"/> (default 42) seeds every component that is not given its own.</summary>
    public RecContext(int? seed = null)
    {
        Seed = (ulong)(seed ?? 42);
        Data = new RecDataCatalog();
        Trainers = new TrainersCatalog(this);
        Ranking = new RecRankingCatalog(this);
        Text = new RecTextCatalog();
        Grounding = new GroundingCatalog(this);
        Model = new RecModelCatalog();
    }

    /// <summary>Raised by components as they work (from the thread doing the work).</summary>
    public event EventHandler<TrainingLogEventArgs>? Log;

    /// <summary>The seed components use by default.</summary>
    public ulong Seed { get; }

    /// <summary>Loading, converting, cleaning and splitting datasets.</summary>
    public RecDataCatalog Data { get; }

    /// <summary>Recommender trainers.</summary>
    public TrainersCatalog Trainers { get; }

    /// <summary>Item text templates, tokenizers and text encoders.</summary>
    public RecTextCatalog Text { get; }

    /// <summary>Grounding a CALRec model's output in the catalogue (dense, BM25, embedding, constrained, fusion).</summary>
    public GroundingCatalog Grounding { get; }

    /// <summary>Full-ranking evaluation.</summary>
    public RecRankingCatalog Ranking { get; }

    /// <summary>Saving, loading and serving models.</summary>
    public RecModelCatalog Model { get; }

    internal void Report(string source, string message) => Log?.Invoke(this, new TrainingLogEventArgs(source, message));
}
