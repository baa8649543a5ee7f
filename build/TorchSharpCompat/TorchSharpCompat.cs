#nullable enable
// Built into the MSBuild task of TorchSharpCompat.targets (RoslynCodeTaskFactory) and linked into
// tests/CalRec.Torch.Tests (with ELF_VERSIONS_ONLY defined) so that the detection is unit tested.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;

namespace CalRec.Build
{
    /// <summary>What the compatibility step does for one native library.</summary>
    public enum CompatDecision
    {
        /// <summary>The library needs no libstdc++ version the system lacks (a newer TorchSharp, or already patched).</summary>
        LibraryNeedsNothingMissing,

        /// <summary>The system libstdc++ defines the version the library needs.</summary>
        SystemIsNewEnough,

        /// <summary>The library needs a version the system lacks: patch a copy.</summary>
        Patch,
    }

    /// <summary>Reads and rewrites the GNU symbol-versioning sections of ELF64 little-endian shared libraries.</summary>
    public static class ElfVersions
    {
        /// <summary>The one libstdc++ version TorchSharp 0.107's native library needs beyond Debian 12 / Ubuntu 22.04.</summary>
        public const string MissingVersion = "GLIBCXX_3.4.32";

        /// <summary>The symbol that needs it (<c>std::ios_base_library_init()</c>, emitted by GCC 13).</summary>
        public const string Symbol = "_ZSt21ios_base_library_initv";

        /// <summary>The library's name in DT_NEEDED.</summary>
        public const string LibStdCxx = "libstdc++.so.6";

        private const uint VerDef = 0x6ffffffd;
        private const uint VerNeed = 0x6ffffffe;

        /// <summary>The versions <paramref name="path"/> needs from each library (its .gnu.version_r section).</summary>
        public static Dictionary<string, List<string>> Needs(string path)
        {
            byte[] b = File.ReadAllBytes(path);
            var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (VersionNeed n in ReadNeeds(b))
            {
                if (!result.TryGetValue(n.File, out List<string>? names))
                {
                    result[n.File] = names = new List<string>();
                }

                names.Add(n.Name);
            }

            return result;
        }

        /// <summary>The versions <paramref name="path"/> defines (its .gnu.version_d section).</summary>
        public static List<string> Defines(string path)
        {
            byte[] b = File.ReadAllBytes(path);
            var names = new List<string>();
            foreach (Section s in Sections(b).Where(s => s.Type == VerDef))
            {
                Section strings = Sections(b)[(int)s.Link];
                long off = s.Offset;
                while (true)
                {
                    ushort count = U16(b, off + 6);
                    uint aux = U32(b, off + 12), next = U32(b, off + 16);
                    long a = off + aux;
                    for (int i = 0; i < count; i++)
                    {
                        names.Add(Str(b, strings.Offset + U32(b, a)));
                        a += U32(b, a + 4);
                    }

                    if (next == 0)
                    {
                        break;
                    }

                    off += next;
                }
            }

            return names;
        }

        /// <summary>Whether the native library <paramref name="library"/> has to be patched to load with <paramref name="systemLibStdCxx"/>.</summary>
        public static CompatDecision Decide(string library, string systemLibStdCxx)
        {
            if (!Needs(library).TryGetValue(LibStdCxx, out List<string>? needed) || !needed.Contains(MissingVersion))
            {
                return CompatDecision.LibraryNeedsNothingMissing;
            }

            return Defines(systemLibStdCxx).Contains(MissingVersion) ? CompatDecision.SystemIsNewEnough : CompatDecision.Patch;
        }

        /// <summary>
        /// Renames the need of <see cref="MissingVersion"/> in <paramref name="path"/> (name and ELF hash) to the newest
        /// GLIBCXX version the file already needs and <paramref name="systemLibStdCxx"/> defines; the loader refuses a
        /// library while an unmet version need exists, even with no symbol using it. Returns the version used.
        /// </summary>
        public static string RewriteMissingNeed(string path, string systemLibStdCxx)
        {
            byte[] b = File.ReadAllBytes(path);
            var available = new HashSet<string>(Defines(systemLibStdCxx), StringComparer.Ordinal);
            List<VersionNeed> std = ReadNeeds(b).Where(n => n.File == LibStdCxx).ToList();
            VersionNeed missing = std.FirstOrDefault(n => n.Name == MissingVersion) ?? throw new InvalidOperationException($"{path} does not need {MissingVersion}.");
            VersionNeed replacement = std.Where(n => n.Name.StartsWith("GLIBCXX_3.4.", StringComparison.Ordinal) && available.Contains(n.Name))
                .OrderByDescending(n => int.Parse(n.Name.Substring("GLIBCXX_3.4.".Length), System.Globalization.CultureInfo.InvariantCulture))
                .FirstOrDefault() ?? throw new InvalidOperationException($"{path} needs no GLIBCXX version that {systemLibStdCxx} defines.");
            Array.Copy(BitConverter.GetBytes(Hash(replacement.Name)), 0, b, missing.AuxOffset, 4);
            Array.Copy(BitConverter.GetBytes(replacement.NameOffset), 0, b, missing.AuxOffset + 8, 4);
            string temp = path + ".rewrite";
            File.WriteAllBytes(temp, b);
            File.Copy(temp, path, overwrite: true);
            File.Delete(temp);
            return replacement.Name;
        }

        /// <summary>The System V ELF hash of a version name (vna_hash).</summary>
        public static uint Hash(string name)
        {
            uint h = 0;
            foreach (byte c in Encoding.ASCII.GetBytes(name))
            {
                h = (h << 4) + c;
                uint g = h & 0xf0000000;
                if (g != 0)
                {
                    h ^= g >> 24;
                }

                h &= ~g;
            }

            return h;
        }

        /// <summary>The system's libstdc++.so.6 (the first of the usual library folders that has one), or null.</summary>
        public static string? FindSystemLibStdCxx() => new[]
        {
            "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        }.Select(d => Path.Combine(d, LibStdCxx)).FirstOrDefault(File.Exists);

        private sealed class Section
        {
            public uint Type;
            public long Offset;
            public uint Link;
        }

        private sealed class VersionNeed
        {
            public string File = "";
            public string Name = "";
            public long AuxOffset;
            public uint NameOffset;
        }

        private static List<VersionNeed> ReadNeeds(byte[] b)
        {
            var result = new List<VersionNeed>();
            List<Section> sections = Sections(b);
            foreach (Section s in sections.Where(s => s.Type == VerNeed))
            {
                Section strings = sections[(int)s.Link];
                long off = s.Offset;
                while (true)
                {
                    ushort count = U16(b, off + 2);
                    string file = Str(b, strings.Offset + U32(b, off + 4));
                    uint aux = U32(b, off + 8), next = U32(b, off + 12);
                    long a = off + aux;
                    for (int i = 0; i < count; i++)
                    {
                        uint nameOffset = U32(b, a + 8);
                        result.Add(new VersionNeed { File = file, Name = Str(b, strings.Offset + nameOffset), AuxOffset = a, NameOffset = nameOffset });
                        a += U32(b, a + 12);
                    }

                    if (next == 0)
                    {
                        break;
                    }

                    off += next;
                }
            }

            return result;
        }

        private static List<Section> Sections(byte[] b)
        {
            if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            {
                throw new InvalidDataException("not an ELF64 little-endian file");
            }

            long shoff = (long)BitConverter.ToUInt64(b, 0x28);
            ushort size = U16(b, 0x3A), count = U16(b, 0x3C);
            var sections = new List<Section>(count);
            for (int i = 0; i < count; i++)
            {
                long h = shoff + ((long)i * size);
                sections.Add(new Section { Type = U32(b, h + 4), Offset = (long)BitConverter.ToUInt64(b, (int)(h + 24)), Link = U32(b, h + 40) });
            }

            return sections;
        }

        private static ushort U16(byte[] b, long at) => BitConverter.ToUInt16(b, (int)at);

        private static uint U32(byte[] b, long at) => BitConverter.ToUInt32(b, (int)at);

        private static string Str(byte[] b, long at)
        {
            int end = Array.IndexOf(b, (byte)0, (int)at);
            return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
        }
    }

#if !ELF_VERSIONS_ONLY
    /// <summary>
    /// After each build (and publish): where the TorchSharp native library in the output needs a libstdc++ version the
    /// system lacks, replaces it with a patched copy (made once per TorchSharp version, kept under obj/).
    /// </summary>
    public sealed class CalRecTorchSharpCompat : Microsoft.Build.Utilities.Task
    {
        /// <summary>The folder holding libLibTorchSharp.so in the build or publish output.</summary>
        [Microsoft.Build.Framework.Required]
        public string NativeDirectory { get; set; } = "";

        /// <summary>A folder under obj/ for the shim and the patched copy.</summary>
        [Microsoft.Build.Framework.Required]
        public string WorkDirectory { get; set; } = "";

        /// <summary>The libstdc++.so.6 the program will load (default: the system's).</summary>
        public string SystemLibStdCxx { get; set; } = "";

        /// <inheritdoc/>
        public override bool Execute()
        {
            string library = Path.Combine(NativeDirectory, "libLibTorchSharp.so");
            if (!File.Exists(library))
            {
                return true;
            }

            string? system = string.IsNullOrEmpty(SystemLibStdCxx) ? ElfVersions.FindSystemLibStdCxx() : SystemLibStdCxx;
            if (system is null)
            {
                Log.LogWarning($"TorchSharp compatibility: no system {ElfVersions.LibStdCxx} found; {library} left as shipped.");
                return true;
            }

            CompatDecision decision = ElfVersions.Decide(library, system);
            if (decision != CompatDecision.Patch)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"TorchSharp compatibility: {decision} ({library}, {system}).");
                return true;
            }

            Directory.CreateDirectory(WorkDirectory);
            const string Shim = "libcalrec_ios_base_init.so";
            string stamp = Path.Combine(WorkDirectory, "source.stamp");
            string patched = Path.Combine(WorkDirectory, "libLibTorchSharp.so");
            string shim = Path.Combine(WorkDirectory, Shim);
            string source = $"{new FileInfo(library).Length}:{File.GetLastWriteTimeUtc(library).Ticks}:{system}";
            if (!File.Exists(stamp) || File.ReadAllText(stamp) != source || !File.Exists(patched) || !File.Exists(shim))
            {
                string code = Path.Combine(WorkDirectory, "ios_base_init.cpp");
                File.WriteAllText(code, "#include <ios>\nnamespace std { void ios_base_library_init() { static ios_base::Init init; } }\n");
                string work = patched + ".tmp";
                File.Copy(library, work, overwrite: true);
                if (!Run("g++", $"-shared -fPIC -O2 -o \"{shim}\" \"{code}\"") || !Run("patchelf", $"--clear-symbol-version {ElfVersions.Symbol} --add-needed {Shim} \"{work}\""))
                {
                    Log.LogWarning($"TorchSharp compatibility: {library} needs {ElfVersions.MissingVersion}, which {system} lacks, and the patch needs g++ and patchelf "
                        + "(Debian/Ubuntu: apt-get install g++ patchelf); TorchSharp will not load until then.");
                    return true;
                }

                string used = ElfVersions.RewriteMissingNeed(work, system);
                File.Copy(work, patched, overwrite: true);
                File.Delete(work);
                File.WriteAllText(stamp, source);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"TorchSharp compatibility: patched a copy of {library} for {system} ({ElfVersions.MissingVersion} -> shim + {used}).");
            }

            // The output's copy may be a symbolic link into the NuGet cache (CreateSymbolicLinksForCopyLocalIfPossible):
            // remove the link first so that the patched file replaces it and the cache is never written through.
            string shimTarget = Path.Combine(NativeDirectory, Shim);
            File.Delete(shimTarget);
            File.Copy(shim, shimTarget);
            File.Delete(library);
            File.Copy(patched, library);
            return true;
        }

        private bool Run(string tool, string arguments)
        {
            try
            {
                using Process p = Process.Start(new ProcessStartInfo(tool, arguments) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
                string error = p.StandardError.ReadToEnd();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0)
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"{tool} {arguments}: exit code {p.ExitCode}: {error.Trim()}");
                }

                return p.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }
    }
#endif
}
