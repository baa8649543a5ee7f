namespace CalRec.Text.Tokenization;

/// <summary>A token matched literally in the input before pre-tokenization (e.g. <c>&lt;|endoftext|&gt;</c>).</summary>
/// <param name="Content">The literal text.</param>
/// <param name="Id">Its id.</param>
/// <param name="Special">Whether it is a control token (skipped by <see cref="ByteLevelBpeTokenizer.Decode"/> on request).</param>
public sealed record AddedToken(string Content, int Id, bool Special = true);
