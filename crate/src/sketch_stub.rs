pub struct Sketch {
    pub image: image::RgbImage,
    pub category: usize,
    pub caption: String,
}
pub const CATEGORIES: [&str; 2] = ["circle", "square"];
pub fn draw(seed: u64, size: u32) -> Sketch {
    let category = (seed % 2) as usize;
    let image = image::RgbImage::from_fn(size, size, |x, y| {
        let on = if category == 0 {
            ((x as i32 - 64).pow(2) + (y as i32 - 64).pow(2) - 1600).abs() < 200
        } else {
            x == 30 || x == 90 || y == 30 || y == 90
        };
        if on {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    Sketch {
        image,
        category,
        caption: format!("a drawing of a {}", CATEGORIES[category]),
    }
}
pub fn draw_category(category: usize, seed: u64, size: u32) -> Sketch {
    let mut s = draw(seed - seed % 2 + category as u64 % 2, size);
    s.category = category % 2;
    s
}
