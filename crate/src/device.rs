//! Which Burn device runs the model: the CPU, or the GPU through wgpu
//! (WebGPU in the browser, Vulkan/Metal/DX12 natively).

use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Wgpu,
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" | "gpu" | "webgpu" => Ok(Self::Wgpu),
            other => Err(Error::Input(format!(
                "unknown device {other:?}; use cpu or wgpu"
            ))),
        }
    }
}

/// Burn's portable CPU backend.
pub fn cpu() -> Device {
    Device::flex()
}

/// Inference on the CPU (no gradients): where the model packs its weights for
/// its own matmul and packs texts into one sequence.
pub fn is_cpu_inference(device: &Device) -> bool {
    *device == cpu() && !device.is_autodiff()
}

/// The native GPU device, initialised once per process. Linux and Windows pin
/// Vulkan: left to choose, the runtime may quietly settle on OpenGL.
#[cfg(not(target_family = "wasm"))]
pub fn wgpu() -> Result<Device> {
    use burn::tensor::wgpu::WgpuBackend;
    use std::sync::OnceLock;

    static DEVICE: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    let api = if cfg!(any(target_os = "macos", target_os = "ios")) {
        WgpuBackend::Auto
    } else {
        WgpuBackend::Vulkan
    };
    DEVICE
        .get_or_init(|| {
            std::panic::catch_unwind(|| Device::wgpu_options().graphics_api(api).init_with_setup())
                .map_err(|_| "the GPU runtime panicked while starting".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map(|(device, setup)| {
                    crate::kernels::record_gpu(&setup);
                    device
                })
        })
        .clone()
        .map_err(|e| Error::Device(format!("no usable GPU adapter ({e}); use --device cpu")))
}

#[cfg(not(target_family = "wasm"))]
pub fn device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(cpu()),
        DeviceChoice::Wgpu => wgpu(),
    }
}

/// The device the browser runs the model on.
#[cfg(target_family = "wasm")]
pub struct BrowserDevice {
    pub device: Device,
    /// "webgpu" or "cpu".
    pub name: &'static str,
    /// Why "auto" chose the CPU, when it did.
    pub reason: Option<String>,
}

/// The browser's device: `"webgpu"`, `"cpu"`, or `"auto"`: WebGPU when the
/// browser has a hardware adapter, else the CPU. A software fallback adapter
/// (SwiftShader) runs this model ~30x slower than the CPU path, so "auto"
/// passes it by.
#[cfg(target_family = "wasm")]
pub async fn browser_device(choice: &str) -> Result<BrowserDevice> {
    use burn::tensor::wgpu::WgpuBackend;
    use burn::tensor::wgpu::wgpu::DeviceType;

    let webgpu = || async {
        Device::wgpu_options()
            .graphics_api(WgpuBackend::WebGpu)
            .init_with_setup_async()
            .await
            .map(|(device, setup)| {
                crate::kernels::record_gpu(&setup);
                let software = setup.adapter.get_info().device_type == DeviceType::Cpu;
                (device, software)
            })
            .map_err(|e| {
                Error::Device(format!(
                    "this browser offers no usable WebGPU adapter ({e}); choose the CPU"
                ))
            })
    };
    let on = |device, name, reason: Option<&str>| BrowserDevice {
        device,
        name,
        reason: reason.map(str::to_string),
    };
    match choice {
        "cpu" => Ok(on(cpu(), "cpu", None)),
        "webgpu" => Ok(on(webgpu().await?.0, "webgpu", None)),
        "auto" => Ok(match webgpu().await {
            Ok((device, false)) => on(device, "webgpu", None),
            Ok((_, true)) => on(
                cpu(),
                "cpu",
                Some("this browser's WebGPU adapter is a software fallback, slower than the CPU"),
            ),
            Err(_) => on(cpu(), "cpu", Some("this browser offers no WebGPU adapter")),
        }),
        other => Err(Error::Input(format!(
            "unknown device {other:?}; use webgpu, cpu or auto"
        ))),
    }
}
