// The signer is Linux-only (its AssemblyInfo says so); so are these tests. SupportedOSPlatform
// allows several instances, so this does not clash with the same line elsewhere in the project.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
