namespace CalRec.Text.Tokenization;

/// <summary>A padded batch of token ids, row-major [Count, Length], with a 1/0 attention mask.</summary>
/// <param name="Ids">Token ids, padded with the pad id.</param>
/// <param name="AttentionMask">1 for real tokens, 0 for padding.</param>
/// <param name="Count">Number of sequences.</param>
/// <param name="Length">Padded length of every sequence.</param>
/// <param name="Lengths">Real (unpadded, possibly truncated) length of each sequence.</param>
public sealed record BatchEncoding(int[] Ids, float[] AttentionMask, int Count, int Length, int[] Lengths);
