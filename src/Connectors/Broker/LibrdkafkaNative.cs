using System.Reflection;
using System.Runtime.InteropServices;

namespace Kommune.Connectors.Broker;

/// <summary>
/// P/Invoke declarations for the parts of librdkafka that Confluent.Kafka does not expose: the mock cluster.
/// The library name resolves, through a DllImportResolver, to the very native file Confluent.Kafka loaded, so
/// both speak to one librdkafka instance.
/// </summary>
internal static partial class LibrdkafkaNative
{
    private const string LibraryName = "kommune-librdkafka";

    static LibrdkafkaNative()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibrdkafkaNative).Assembly, Resolve);
    }

    /// <summary>Makes sure the resolver is registered before the first P/Invoke call.</summary>
    internal static void EnsureResolver()
    {
        // The static constructor does the work; this method only forces it to run.
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibraryName)
        {
            return IntPtr.Zero;
        }

        // Let Confluent.Kafka pick and load its native file first (on Debian: centos8-librdkafka.so).
        _ = Confluent.Kafka.Library.Version;
        var path = FindLoadedLibrdkafka()
            ?? throw new DllNotFoundException(
                "librdkafka was not found among the loaded native libraries after Confluent.Kafka loaded it.");
        return NativeLibrary.Load(path);
    }

    /// <summary>Finds the path of the librdkafka that this process has loaded, from /proc/self/maps.</summary>
    private static string? FindLoadedLibrdkafka()
    {
        const string maps = "/proc/self/maps";
        if (File.Exists(maps))
        {
            foreach (var line in File.ReadLines(maps))
            {
                var slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0)
                {
                    continue;
                }

                var path = line[slash..].Trim();
                if (Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
                {
                    return path;
                }
            }
        }

        // Elsewhere (macOS, Windows) fall back to the files Confluent.Kafka ships beside the assembly.
        var baseDir = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", "centos8-librdkafka.so"),
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", "librdkafka.so"),
            Path.Combine(baseDir, "runtimes", "osx-arm64", "native", "librdkafka.dylib"),
            Path.Combine(baseDir, "runtimes", "win-x64", "native", "librdkafka.dll"),
        ];
        return candidates.FirstOrDefault(File.Exists);
    }

    internal const int RdKafkaProducer = 0;
    internal const int ConfOk = 0;

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, UIntPtr errstrSize);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, UIntPtr errstrSize);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);

    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr cluster, int brokerId, int rttMs);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_leader(IntPtr cluster, string topic, int partition, int brokerId);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr cluster, short apiKey, UIntPtr count, int[] errors);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_clear_request_errors(IntPtr cluster, short apiKey);

    /// <summary>
    /// Variadic in C (<c>cnt</c> error codes follow); called with exactly one, which the x86-64 System V calling
    /// convention passes like a fixed integer argument.
    /// </summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_push_request_errors(IntPtr cluster, string topic, int partition, short apiKey, UIntPtr count, int error);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void rd_kafka_mock_topic_set_error(IntPtr cluster, string topic, int error);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr cluster, int delayMs);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_start_request_tracking(IntPtr cluster);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_clear_requests(IntPtr cluster);

    /// <summary>The requests seen since tracking started: an array of <c>cnt</c> request pointers, freed with <see cref="rd_kafka_mock_request_destroy_array"/>.</summary>
    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_mock_get_requests(IntPtr cluster, out UIntPtr count);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_request_destroy_array(IntPtr requests, UIntPtr count);

    [LibraryImport(LibraryName)]
    internal static partial short rd_kafka_mock_request_api_key(IntPtr request);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_err2str(int err);
}
