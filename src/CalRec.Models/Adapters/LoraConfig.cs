namespace CalRec.Models.Adapters;

/// <summary>LoRA settings, stored as PEFT's <c>adapter_config.json</c>.</summary>
public sealed record LoraConfig
{
    /// <summary>Rank r of the update.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>Scaling numerator: the update is multiplied by alpha / r.</summary>
    public float Alpha { get; init; } = 16f;

    /// <summary>Dropout on the adapter input while training.</summary>
    public float Dropout { get; init; } = 0.05f;

    /// <summary>Names of the linear layers to adapt (last name component, as in PEFT: q_proj, v_proj, c_attn, ...).</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];
}
