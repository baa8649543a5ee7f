
namespace CalRec.Recommenders.Grounding;

/// <summary>How a CALRec model turns a history into ranked catalogue items.</summary>
public enum GroundingPath
{
    /// <summary>Dense retrieval: user tower vs the item-tower index.</summary>
    Dense,

    /// <summary>Generate N item texts, BM25 over the item texts for each, merge the lists quasi-round-robin.</summary>
    Bm25,

    /// <summary>BIGRec: generate N item texts and rank every item by its embedding distance to the closest one.</summary>
    Embedding,

    /// <summary>Beam search constrained to a trie of the catalogue's item texts: real items straight from the decoder.</summary>
    Constrained,

    /// <summary>Weighted reciprocal-rank fusion of the other paths' lists.</summary>
    Fusion,
}

/// <summary>Distance between a generated text's embedding and an item's (both L2-normalized).</summary>
public enum GroundingDistance
{
    /// <summary>1 − cosine similarity.</summary>
    Cosine,

    /// <summary>Euclidean distance.</summary>
    L2,
}

/// <summary>The collaborative signal C that re-weights embedding-grounding distances (BIGRec).</summary>
public enum ReweightingSignal
{
    /// <summary>Training-split popularity of each item (saved with the model).</summary>
    Popularity,

    /// <summary>A collaborative model's scores for the user (for example SASRec's), supplied when the scorer is created.</summary>
    Collaborative,
}

/// <summary>Settings of the generation-based grounding paths (see <see cref="GroundedScorer"/>).</summary>
public sealed class GroundingOptions
{
    /// <summary>The path whose ranking <see cref="GroundedScorer.Score"/> returns.</summary>
    public GroundingPath Path { get; set; } = GroundingPath.Dense;

    /// <summary>Item texts generated per user (N).</summary>
    public int Candidates { get; set; } = 4;

    /// <summary>Seeded temperature sampling instead of beam search.</summary>
    public bool Sampling { get; set; }

    /// <summary>Temperature of <see cref="Sampling"/>.</summary>
    public float SamplingTemperature { get; set; } = 0.8f;

    /// <summary>Items kept per list (per generated text for BM25, per path for fusion).</summary>
    public int ListLength { get; set; } = 50;

    /// <summary>BM25 term-frequency saturation.</summary>
    public float Bm25K1 { get; set; } = 1.2f;

    /// <summary>BM25 length normalization.</summary>
    public float Bm25B { get; set; } = 0.75f;

    /// <summary>Embedding-grounding distance.</summary>
    public GroundingDistance Distance { get; set; } = GroundingDistance.L2;

    /// <summary>
    /// Pooling of the embeddings that embedding grounding compares (generated texts and every item text); null: the
    /// model's own pooling, whose item vectors are the saved item index.
    /// </summary>
    public Models.Embeddings.Pooling? EmbeddingPooling { get; set; }

    /// <summary>γ of the re-weighting of embedding distances by <see cref="Signal"/> (0: off). Choose it on validation only.</summary>
    public float Gamma { get; set; }

    /// <summary>
    /// The signal C that <see cref="Gamma"/> re-weights by (and was tuned with). <see cref="ReweightingSignal.Collaborative"/>
    /// needs the collaborative model passed to <c>GroundingCatalog.Create</c> whenever γ &gt; 0.
    /// </summary>
    public ReweightingSignal Signal { get; set; } = ReweightingSignal.Popularity;

    /// <summary>Beams of trie-constrained generation.</summary>
    public int ConstrainedBeams { get; set; } = 10;

    /// <summary>Fusion weight of each path's list (choose them on validation only); paths left out are not fused.</summary>
    public Dictionary<GroundingPath, double> FusionWeights { get; set; } = new() { [GroundingPath.Dense] = 1, [GroundingPath.Bm25] = 1, [GroundingPath.Embedding] = 1 };

    /// <summary>Seed of sampling (each user's draws also depend on their history, not on batching).</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>A copy.</summary>
    public GroundingOptions Clone()
    {
        var copy = (GroundingOptions)MemberwiseClone();
        copy.FusionWeights = new Dictionary<GroundingPath, double>(FusionWeights);
        return copy;
    }

    internal void Validate()
    {
        if (Candidates < 1 || ListLength < 1 || ConstrainedBeams < 1 || SamplingTemperature <= 0 || Gamma < 0)
        {
            throw new ArgumentException("Grounding options: Candidates, ListLength and ConstrainedBeams must be positive, SamplingTemperature positive, Gamma not negative.");
        }
    }
}
