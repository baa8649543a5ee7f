namespace CalRec.Models.Generation;

/// <summary>
/// What decoding needs from a language model: next-token logits for a set of rows (sequences) that grow one token at a
/// time, and the ability to drop or duplicate rows (beam search).
/// </summary>
public interface IStepModel
{
    /// <summary>Number of token ids.</summary>
    int VocabularySize { get; }

    /// <summary>Starts one row per prompt; returns next-token logits, row-major [rows, V].</summary>
    float[] Start(IReadOnlyList<int[]> prompts);

    /// <summary>Appends one token to every row; returns next-token logits [rows, V].</summary>
    float[] Step(int[] tokens);

    /// <summary>Rebuilds the rows so that new row i continues old row <paramref name="sources"/>[i].</summary>
    void Reorder(IReadOnlyList<int> sources);
}
